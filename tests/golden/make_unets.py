# Makes the golden fixtures of the comparison networks in this folder with the same procedure as
# FocusNet's (../shared/reference/golden.py: golden.md's parameter formula, float64, one training
# step, one Adam step, the inference output), from the PyTorch definitions in torch_unets.py:
#   /usr/bin/python3 tests/golden/make_unets.py [SHARED]
# The files' metadata names the arch and width (fn's check-golden reads them).
import os
import sys

import torch

here = os.path.dirname(os.path.abspath(__file__))
shared = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "..", "shared")
sys.path.insert(0, os.path.join(shared, "reference"))
sys.path.insert(0, here)
import golden  # noqa: E402
from torch_focusnet import dice_loss  # noqa: E402
from torch_unets import ARCHS, UShape  # noqa: E402

WIDTH = 0.0625  # 4-8-16-32-64 channels: the whole U in a second of check-golden
TOL = {"output_train": 1e-4, "loss": 1e-4, "grad_l2": 5e-3, "grad_sample": 5e-3, "output_eval_after_adam": 1e-2}


def step(arch, cin, n, hgt, wid, width, dtype, noise=0):
    """golden.md's procedure in dtype: the fields of the file, and the parameter names. noise = s > 0:
    every parameter first multiplied by (1 + 2^-24 z), z standard normal from seed s (float32 rounding)"""
    torch.manual_seed(0)
    m = UShape(arch, cin, width).double()
    golden.fill(m)
    if noise:
        gen = torch.Generator().manual_seed(noise)
        with torch.no_grad():
            for prm in m.parameters():
                prm.mul_(1 + 2.0 ** -24 * torch.randn(prm.shape, generator=gen, dtype=torch.float64))
    m = m.to(dtype).train()
    x = golden.u("input", n * cin * hgt * wid).reshape(n, cin, hgt, wid)
    y = (golden.u("target", n * hgt * wid).reshape(n, 1, hgt, wid) > 0.0).double()
    p = m(x.to(dtype))
    loss = dice_loss(p, y.to(dtype))
    loss.backward()
    names = [k for k, _ in m.named_parameters()]
    gl2, gs = [], []
    for _, prm in m.named_parameters():
        g = prm.grad.reshape(-1)
        gl2.append(g.norm())
        gs.append(g[torch.tensor([j * g.numel() // 8 for j in range(8)])])
    torch.optim.Adam(m.parameters(), lr=1e-3, eps=1e-7).step()
    m.eval()
    with torch.no_grad():
        pe = m(x.to(dtype))
    t = {"input": x, "target": y, "output_train": p, "loss": loss.reshape(1),
         "grad_l2": torch.stack(gl2), "grad_sample": torch.stack(gs), "output_eval_after_adam": pe}
    return {k: v.detach().double() for k, v in t.items()}, names


def case(path, arch, cin, n, hgt, wid, width):
    t, names = step(arch, cin, n, hgt, wid, width, torch.float64)
    # How far float32 rounding alone moves each field: PyTorch's own float32 path with each of its two CPU
    # convolutions (oneDNN's, and its own im2col: another order of summation), and float64 runs with the
    # parameters moved by float32's relative rounding (2^-24) in four random ways. The plain BN-ReLU
    # stacks (unet, runet, attunet) have exploding gradients at initialisation, so this can be percents;
    # where three times the largest distance exceeds golden.md's tolerance, the file widens it (tol_FIELD).
    runs = []
    for mkldnn in (True, False):
        torch.backends.mkldnn.enabled = mkldnn
        runs.append(step(arch, cin, n, hgt, wid, width, torch.float32)[0])
    torch.backends.mkldnn.enabled = True
    runs += [step(arch, cin, n, hgt, wid, width, torch.float64, noise=s)[0] for s in range(1, 5)]
    meta = {"param_names": ",".join(names), "cin": str(cin), "arch": arch, "width": repr(width), "note":
            "float64 PyTorch (tests/golden/torch_unets.py); BN train mode for output_train; Adam lr 1e-3 eps 1e-7 "
            "one step; largest rel err of float32 rounding:"}
    for k, tol in TOL.items():
        err = max(((r[k] - t[k]).norm() / t[k].norm()).item() for r in runs)
        meta["note"] += " %s %.2e" % (k, err)
        if 3 * err > tol:
            meta["tol_" + k] = "%.2g" % (3 * err)
    golden.save_safetensors(path, t, meta)
    return t["loss"].item(), len(names), {k: v for k, v in meta.items() if k.startswith("tol_")}


if __name__ == "__main__":
    for i, a in enumerate(ARCHS):
        cin = 1 if i % 2 else 3  # both input channel counts among the five
        f = "%s_c%d_2x32x48.safetensors" % (a, cin)
        print(f, case(os.path.join(here, f), a, cin, 2, 32, 48, WIDTH))
