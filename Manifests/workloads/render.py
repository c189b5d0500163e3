"""Offscreen rendering through OpenGL on EGL, no display (moderngl): frames/s of a fixed lit scene.

The scene: a torus of --size × --size quads (2·size² triangles, default 256: 131,072) turning by a fixed step each
frame, per-fragment Blinn-Phong from four point lights and a procedural checker, depth-tested into a framebuffer
of --width × --height (RGBA8 + 24-bit depth). Each repetition renders --frames frames (or, with a window, as many as
fit) and glFinish()es before the clock stops. Each result line carries GL_RENDERER, so results say what rendered
them ("llvmpipe" on CPU, the GPU's name otherwise). GLCONTEXT_DEVICE_INDEX picks the EGL device (default 0)."""
import argparse
import signal
import sys

import numpy as np

from common import args, report, seconds_per_step, start

VERTEX = """
#version 330
uniform mat4 mvp;
uniform mat4 model;
in vec3 position;
in vec3 normal;
in vec2 uv;
out vec3 v_world;
out vec3 v_normal;
out vec2 v_uv;
void main() {
    vec4 world = model * vec4(position, 1.0);
    v_world = world.xyz;
    v_normal = mat3(model) * normal;
    v_uv = uv;
    gl_Position = mvp * vec4(position, 1.0);
}
"""

FRAGMENT = """
#version 330
uniform vec3 eye;
in vec3 v_world;
in vec3 v_normal;
in vec2 v_uv;
out vec4 color;
const vec3 lights[4] = vec3[](vec3(4, 4, 4), vec3(-4, 3, 2), vec3(0, -4, 3), vec3(3, 0, -4));
const vec3 tints[4] = vec3[](vec3(1, .9, .8), vec3(.5, .6, 1), vec3(.4, 1, .5), vec3(1, .4, .4));
void main() {
    vec3 n = normalize(v_normal);
    vec3 v = normalize(eye - v_world);
    float check = mod(floor(v_uv.x * 48.0) + floor(v_uv.y * 16.0), 2.0);
    vec3 albedo = mix(vec3(.8, .3, .2), vec3(.9, .85, .7), check);
    vec3 lit = .08 * albedo;
    for (int i = 0; i < 4; i++) {
        vec3 l = lights[i] - v_world;
        float fall = 1.0 / (1.0 + .05 * dot(l, l));
        l = normalize(l);
        vec3 h = normalize(l + v);
        lit += fall * tints[i] * (albedo * max(dot(n, l), 0.0) + .5 * pow(max(dot(n, h), 0.0), 48.0));
    }
    color = vec4(pow(lit, vec3(1.0 / 2.2)), 1.0);
}
"""


def torus(segments: int, major: float = 1.0, minor: float = 0.42):
    """Vertices (position, normal, uv interleaved, float32) and triangle indices (uint32) of a closed torus."""
    t = np.linspace(0, 2 * np.pi, segments + 1, dtype=np.float32)
    u, v = np.meshgrid(t, t, indexing="ij")
    normal = np.stack([np.cos(u) * np.cos(v), np.sin(u) * np.cos(v), np.sin(v)], axis=-1)
    position = np.stack([np.cos(u) * major, np.sin(u) * major, np.zeros_like(u)], axis=-1) + minor * normal
    uv = np.stack([u, v], axis=-1) / (2 * np.pi)
    vertices = np.concatenate([position, normal, uv], axis=-1).astype(np.float32)
    row = segments + 1
    i, j = np.meshgrid(np.arange(segments), np.arange(segments), indexing="ij")
    a, b = (i * row + j).ravel(), ((i + 1) * row + j).ravel()
    quads = np.stack([a, b, b + 1, a, b + 1, a + 1], axis=-1)
    return vertices.reshape(-1, 8), quads.astype(np.uint32).ravel()


def perspective(fovy: float, aspect: float, near: float, far: float):
    f = 1 / np.tan(fovy / 2)
    return np.array(
        [[f / aspect, 0, 0, 0], [0, f, 0, 0], [0, 0, (far + near) / (near - far), 2 * far * near / (near - far)],
         [0, 0, -1, 0]], dtype=np.float32)


def rotation(angle: float):
    c, s = np.cos(angle), np.sin(angle)
    turn = np.array([[c, -s, 0, 0], [s, c, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], dtype=np.float32)
    tilt = np.array([[1, 0, 0, 0], [0, .5, -.866, 0], [0, .866, .5, 0], [0, 0, 0, 1]], dtype=np.float32)
    return tilt @ turn


def context():
    """An OpenGL 3.3 context through EGL, without a display; a clear message and exit status 2 when there is none."""
    try:
        import moderngl
    except ImportError as error:
        sys.exit(f"render: moderngl is not installed ({error}); install it with: python3 -m pip install moderngl")
    try:
        return moderngl.create_context(standalone=True, backend="egl", require=330)
    except Exception as error:  # glcontext raises plain Exceptions naming the EGL call that failed
        print(f"render: no OpenGL 3.3 context through EGL (no usable EGL device or driver): {error}", file=sys.stderr)
        sys.exit(2)


# A process inherits the signal mask of the thread that started it: forbc's co-tenants started from its worker
# threads (and processes started under swift test) come with SIGTERM blocked. Unblocked, so a timeout's terminate()
# ends a stuck frame at once rather than the SIGKILL 5 s later.
signal.pthread_sigmask(signal.SIG_SETMASK, set())
own = argparse.ArgumentParser(add_help=False)
own.add_argument("--width", type=int, default=1280)
own.add_argument("--height", type=int, default=720)
own.add_argument("--frames", type=int, default=30, help="frames a repetition (without a window)")
mine, rest = own.parse_known_args()
a = args(rest)
segments = a.size or 256
if min(mine.width, mine.height, mine.frames, segments) < 1 or segments > 8192:
    sys.exit("render: --width, --height, --frames and --size must be positive, --size at most 8192")

ctx = context()
renderer = ctx.info["GL_RENDERER"]
program = ctx.program(vertex_shader=VERTEX, fragment_shader=FRAGMENT)
vertices, indices = torus(segments)
vao = ctx.vertex_array(
    program, [(ctx.buffer(vertices.tobytes()), "3f 3f 2f", "position", "normal", "uv")],
    index_buffer=ctx.buffer(indices.tobytes()), index_element_size=4)
fbo = ctx.framebuffer(
    color_attachments=[ctx.renderbuffer((mine.width, mine.height))],
    depth_attachment=ctx.depth_renderbuffer((mine.width, mine.height)))
eye = np.array([0, 0, 3.2], dtype=np.float32)
view = np.eye(4, dtype=np.float32)
view[:3, 3] = -eye
projection = perspective(np.radians(50), mine.width / mine.height, 0.1, 20) @ view
program["eye"].value = tuple(eye)
ctx.enable(ctx.DEPTH_TEST | ctx.CULL_FACE)
frame = 0


def draw():
    global frame
    model = rotation(frame * 0.01)
    program["model"].write(model.T.copy().tobytes())
    program["mvp"].write((projection @ model).T.copy().tobytes())
    fbo.use()
    fbo.clear(0.02, 0.02, 0.05, 1.0, depth=1.0)
    vao.render()
    frame += 1


for _ in range(max(a.warmups, 1)):
    for _ in range(mine.frames):
        draw()
ctx.finish()
# The check that it drew: most of the frame is lit torus, not the clear colour.
pixels = np.frombuffer(fbo.read(components=3), dtype=np.uint8).reshape(mine.height, mine.width, 3)
covered = float(np.mean(pixels.max(axis=-1) > 20))
if covered < 0.1:
    sys.exit(f"render: the scene covers {covered:.1%} of the frame on '{renderer}'; expected most of it")
start(a)
for rep in range(a.repetitions):
    first = frame
    seconds = seconds_per_step(draw, mine.frames, a.window, sync=ctx.finish)
    report("fps", 1 / seconds, rep=rep, renderer=renderer, width=mine.width, height=mine.height,
           triangles=len(indices) // 3, frames=frame - first)
