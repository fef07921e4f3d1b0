# torch_net.py CASE REPEATS: the PyTorch side of tests/bench/net.sh. CASE is inferSbN or trainSbN
# (S the square image size, N the batch). The model is $FN_SHARED/reference/torch_focusnet.py (read in
# place, not copied; at WIDTH other than 1 with every channel count scaled as fn-train --width), or
# with ARCH=unet|resunet|runet|r2unet|attunet tests/golden/torch_unets.py's
# definition of that network at WIDTH (default 1), 3 input channels, on the CPU with
# torch.set_num_threads($THREADS). Inference:
# eval mode under no_grad. A training step: forward, Dice loss, backward, Adam (lr 1e-3, eps 1e-7), as
# fn-train takes it. One warm-up, then REPEATS timed runs; prints "CASE images_per_s" (the median).
# RUNTIME (default eager) picks how the model runs:
#   eager    PyTorch's eager mode, as above;
#   cl       eager with the model and the input in channels_last memory format;
#   compile  torch.compile(model) in its default mode (training: the compiled model's forward and
#            backward, the Dice loss and Adam's step outside it); two warm-ups, which absorb compiling;
#   cl-bf16  cl under torch.autocast("cpu", torch.bfloat16): PyTorch's CPU bf16 (oneDNN's bf16
#            convolutions where the CPU has bf16 instructions; fp32 weights, Adam and loss outside the
#            autocast region, as fn's --precision bf16 keeps them);
#   compile-bf16  torch.compile of the channels_last model, run under the same autocast;
#   ort      inference only: the eval-mode model exported by torch.onnx.export (the TorchScript
#            exporter, opset 17, the case's fixed batch) and run by ONNX Runtime's CPUExecutionProvider
#            with $THREADS intra-op threads, 1 inter-op thread and every graph optimisation; a training
#            case prints nothing and exits 3 (not applicable).
import contextlib
import os
import re
import statistics
import sys
import time

case, repeats = sys.argv[1], int(sys.argv[2])
m = re.fullmatch(r"(infer|train)(\d+)b(\d+)", case)
if not m:
    sys.exit("torch_net.py: bad case " + case)
mode, size, n = m.group(1), int(m.group(2)), int(m.group(3))
runtime = os.environ.get("RUNTIME", "eager")
RUNTIMES = ("eager", "cl", "compile", "cl-bf16", "compile-bf16", "ort")
if runtime not in RUNTIMES:
    sys.exit("torch_net.py: bad RUNTIME " + runtime + " (" + ", ".join(RUNTIMES) + ")")
bf16 = runtime.endswith("-bf16")
if runtime == "ort" and mode == "train":
    sys.exit(3)

import torch  # noqa: E402

sys.path.insert(0, os.path.join(os.environ["FN_SHARED"], "reference"))
from torch_focusnet import FocusNet, dice_loss  # noqa: E402



def focusnet_at(width):
    """The reference FocusNet with every channel count c made ch(c) = max(1, round(c * width)), as
    fn-train --width does (lib/nn/focusnet.c); the 3 input channels stay. The reference takes its
    counts as literals, so its layer constructors are wrapped while it is built; the channel counts
    (and so the parameter count) equal fn's, which the caller can check with fn-info."""
    if width == 1:
        return FocusNet(3)
    import torch_focusnet as ref

    def ch(c):
        return max(1, int(round(c * width)))
    conv, bn, se = ref.Conv, ref.BN, ref.SE
    ref.Conv = lambda cin, cout, k, s=1, bias=True: conv(3 if cin == 3 else ch(cin), ch(cout), k, s, bias)
    ref.BN = lambda c: bn(ch(c))
    ref.SE = lambda c: se(ch(c))
    try:
        return ref.FocusNet(3)
    finally:
        ref.Conv, ref.BN, ref.SE = conv, bn, se


threads = int(os.environ.get("THREADS", "2"))
torch.set_num_threads(threads)
torch.manual_seed(1)
arch = os.environ.get("ARCH", "focusnet")
width = float(os.environ.get("WIDTH", "1"))
if arch == "focusnet":
    net = focusnet_at(width)
else:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden"))
    from torch_unets import UShape  # noqa: E402
    net = UShape(arch, 3, width)
x = torch.randn(n, 3, size, size)
y = (torch.rand(n, 1, size, size) > 0.5).float()
if runtime in ("cl", "cl-bf16", "compile-bf16"):
    net = net.to(memory_format=torch.channels_last)
    x = x.contiguous(memory_format=torch.channels_last)
model = torch.compile(net) if runtime.startswith("compile") else net


def autocast():
    return torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()


if runtime == "ort":
    import inspect
    import shutil
    import tempfile
    import warnings

    import onnxruntime as ort

    net.eval()
    path = os.path.join(tempfile.mkdtemp(prefix="torch_net."), "model.onnx")
    kw = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
    warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript exporter's, from PyTorch 2.9
    with torch.no_grad():
        torch.onnx.export(net, (x,), path, input_names=["x"], output_names=["p"], opset_version=17, **kw)
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    shutil.rmtree(os.path.dirname(path))
    feed = {"x": x.numpy()}

    def run():
        sess.run(None, feed)
elif mode == "infer":
    net.eval()

    def run():
        with torch.no_grad(), autocast():
            model(x)
else:
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)

    def run():
        opt.zero_grad(set_to_none=True)
        with autocast():
            p = model(x)
        dice_loss(p.float(), y).backward()
        opt.step()

warm = 2 if runtime.startswith("compile") else 1
label = "torch" if runtime == "eager" else "torch-" + runtime
times = []
for r in range(repeats + warm):
    t0 = time.perf_counter()
    run()
    dt = time.perf_counter() - t0
    print("  %s %s %s %.3f s" % (label, case, "repeat" if r >= warm else "warm-up", dt), file=sys.stderr)
    if r >= warm:
        times.append(dt)
print("%s %.4f" % (case, n / statistics.median(times)))
