"""Inference of a BERT-base shaped encoder (12 layers, 768 wide, 12 heads) with random weights through PyTorch
(fp16, batch 64, 128 tokens): sequences/s."""
import torch

from gpu_common import args, report, start, timed

a = args()
batch = a.size or 64
layer = torch.nn.TransformerEncoderLayer(d_model=768, nhead=12, dim_feedforward=3072, batch_first=True)
model = torch.nn.TransformerEncoder(layer, num_layers=12, enable_nested_tensor=False).cuda().half().eval()
tokens = torch.randn(batch, 128, 768, device="cuda", dtype=torch.float16)


@torch.no_grad()
def step():
    model(tokens)


for _ in range(max(a.warmups, 1) * 3):
    step()
torch.cuda.synchronize()
start(a)
for rep in range(a.repetitions):
    report("sequences", batch / timed(step, 10, a.window), rep=rep)
