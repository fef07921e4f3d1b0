# torch_net.py CASE REPEATS: the PyTorch side of tests/bench/net.sh. CASE is inferSbN or trainSbN
# (S the square image size, N the batch). The model is $FN_SHARED/reference/torch_focusnet.py (read in
# place, not copied), or with ARCH=unet|resunet|runet|r2unet|attunet tests/golden/torch_unets.py's
# definition of that network at WIDTH (default 1), 3 input channels, on the CPU with
# torch.set_num_threads($THREADS). Inference:
# eval mode under no_grad. A training step: forward, Dice loss, backward, Adam (lr 1e-3, eps 1e-7), as
# fn-train takes it. One warm-up, then REPEATS timed runs; prints "CASE images_per_s" (the median).
import os
import re
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.environ["FN_SHARED"], "reference"))
from torch_focusnet import FocusNet, dice_loss  # noqa: E402

case, repeats = sys.argv[1], int(sys.argv[2])
m = re.fullmatch(r"(infer|train)(\d+)b(\d+)", case)
if not m:
    sys.exit("torch_net.py: bad case " + case)
mode, size, n = m.group(1), int(m.group(2)), int(m.group(3))
torch.set_num_threads(int(os.environ.get("THREADS", "2")))
torch.manual_seed(1)
arch = os.environ.get("ARCH", "focusnet")
if arch == "focusnet":
    net = FocusNet(3)
else:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden"))
    from torch_unets import UShape  # noqa: E402
    net = UShape(arch, 3, float(os.environ.get("WIDTH", "1")))
x = torch.randn(n, 3, size, size)
y = (torch.rand(n, 1, size, size) > 0.5).float()

if mode == "infer":
    net.eval()

    def run():
        with torch.no_grad():
            net(x)
else:
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)

    def run():
        opt.zero_grad(set_to_none=True)
        dice_loss(net(x), y).backward()
        opt.step()

times = []
for r in range(repeats + 1):
    t0 = time.perf_counter()
    run()
    dt = time.perf_counter() - t0
    print("  torch %s %s %.3f s" % (case, "repeat" if r else "warm-up", dt), file=sys.stderr)
    if r:
        times.append(dt)
print("%s %.4f" % (case, n / statistics.median(times)))
