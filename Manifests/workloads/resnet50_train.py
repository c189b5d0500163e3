"""ResNet-50 training steps on synthetic images through PyTorch (bf16 autocast, batch 128, 224²): images/s."""
import torch
import torchvision

from gpu_common import args, report, start, timed

a = args()
batch = a.size or 128
model = torchvision.models.resnet50().cuda().to(memory_format=torch.channels_last)
optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
images = torch.randn(batch, 3, 224, 224, device="cuda").to(memory_format=torch.channels_last)
labels = torch.randint(0, 1000, (batch,), device="cuda")
loss_fn = torch.nn.CrossEntropyLoss()


def step():
    optimizer.zero_grad(set_to_none=True)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        loss = loss_fn(model(images), labels)
    loss.backward()
    optimizer.step()


for _ in range(max(a.warmups, 1) * 3):
    step()
torch.cuda.synchronize()
start(a)
for rep in range(a.repetitions):
    report("images", batch / timed(step, 5, a.window), rep=rep)
