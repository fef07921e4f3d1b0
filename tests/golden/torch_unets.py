# PyTorch definitions of fn's comparison networks (man fn-train, lib/nn/unet.c, r2unet.c, attunet.c),
# written for this project from the papers and the layout of LeeJunHyun/Image_Segmentation's
# network.py: U-Net (Ronneberger et al.), Res-U-Net and RU-Net / R2U-Net (Alom et al., arXiv
# 1802.06955, t = 2) and Attention U-Net (Oktay et al., arXiv 1804.03999). Module names are the
# canonical parameter names of fn's model files; named_parameters() gives fn's canonical order.
# Batch norm: PyTorch's eps (1e-5), fn's training momentum (Keras 0.99: momentum 0.01).
import torch
import torch.nn as nn
import torch.nn.functional as F

ARCHS = ("unet", "resunet", "runet", "r2unet", "attunet")


def bn(c):
    return nn.BatchNorm2d(c, eps=1e-5, momentum=0.01)


def ch(c, width):
    return max(1, int(round(c * width)))


class ConvBnRelu(nn.Module):  # "c", "bn" (or given names)
    def __init__(self, ci, co, k=3):
        super().__init__()
        self.c = nn.Conv2d(ci, co, k, padding=k // 2)
        self.bn = bn(co)

    def forward(self, x):
        return F.relu(self.bn(self.c(x)))


class TwoConvs(nn.Module):  # U-Net's block: c1, bn1, c2, bn2 (+ proj for Res-U-Net)
    def __init__(self, ci, co, residual=False):
        super().__init__()
        self.c1 = nn.Conv2d(ci, co, 3, padding=1)
        self.bn1 = bn(co)
        self.c2 = nn.Conv2d(co, co, 3, padding=1)
        self.bn2 = bn(co)
        self.residual = residual
        self.proj = nn.Conv2d(ci, co, 1) if residual and ci != co else None

    def forward(self, x):
        h = F.relu(self.bn2(self.c2(F.relu(self.bn1(self.c1(x))))))
        if not self.residual:
            return h
        return (self.proj(x) if self.proj is not None else x) + h


class Recurrent(nn.Module):  # one conv + BN applied t + 1 = 3 times: x1 = f(x); x1 = f(x + x1) twice
    def __init__(self, c, t=2):
        super().__init__()
        self.c = nn.Conv2d(c, c, 3, padding=1)
        self.bn = bn(c)
        self.t = t

    def forward(self, x):
        f = lambda v: F.relu(self.bn(self.c(v)))  # noqa: E731
        x1 = f(x)
        for _ in range(self.t):
            x1 = f(x + x1)
        return x1


class RRCNN(nn.Module):  # c0 (1x1), r1, r2; R2U-Net adds x0
    def __init__(self, ci, co, residual):
        super().__init__()
        self.c0 = nn.Conv2d(ci, co, 1)
        self.r1 = Recurrent(co)
        self.r2 = Recurrent(co)
        self.residual = residual

    def forward(self, x):
        x0 = self.c0(x)
        h = self.r2(self.r1(x0))
        return x0 + h if self.residual else h


class Attention(nn.Module):  # wg, wgbn, wx, wxbn, psi, psibn
    def __init__(self, fg, fl, fint):
        super().__init__()
        self.wg = nn.Conv2d(fg, fint, 1)
        self.wgbn = bn(fint)
        self.wx = nn.Conv2d(fl, fint, 1)
        self.wxbn = bn(fint)
        self.psi = nn.Conv2d(fint, 1, 1)
        self.psibn = bn(1)

    def forward(self, g, x):
        s = F.relu(self.wgbn(self.wg(g)) + self.wxbn(self.wx(x)))
        return x * torch.sigmoid(self.psibn(self.psi(s)))


class UShape(nn.Module):
    """e1..e5 (max pooling between), then u5/att5/d5 .. u2/att2/d2, out: 1x1 conv + sigmoid."""

    def __init__(self, arch, cin, width=1.0):
        super().__init__()
        assert arch in ARCHS
        self.arch = arch

        def block(ci, co):
            if arch in ("unet", "attunet"):
                return TwoConvs(ci, co)
            if arch == "resunet":
                return TwoConvs(ci, co, residual=True)
            return RRCNN(ci, co, residual=arch == "r2unet")

        c = cin
        for i in range(1, 6):
            f = ch(64 << (i - 1), width)
            setattr(self, "e%d" % i, block(c, f))
            c = f
        for i in range(5, 1, -1):
            f = ch(64 << (i - 2), width)
            setattr(self, "u%d" % i, ConvBnRelu(c, f))
            if arch == "attunet":
                setattr(self, "att%d" % i, Attention(f, f, ch(32 << (i - 2), width)))
            setattr(self, "d%d" % i, block(2 * f, f))
            c = f
        self.out = nn.Conv2d(c, 1, 1)

    def forward(self, x):
        e = {}
        for i in range(1, 6):
            if i > 1:
                x = F.max_pool2d(x, 2)
            x = e[i] = getattr(self, "e%d" % i)(x)
        for i in range(5, 1, -1):
            d = getattr(self, "u%d" % i)(F.interpolate(x, scale_factor=2, mode="nearest"))
            s = e[i - 1]
            if self.arch == "attunet":
                s = getattr(self, "att%d" % i)(d, s)
            x = getattr(self, "d%d" % i)(torch.cat((s, d), 1))
        return torch.sigmoid(self.out(x))


def nparams(arch, cin, width=1.0):
    return sum(p.numel() for p in UShape(arch, cin, width).parameters())


if __name__ == "__main__":
    for a in ARCHS:
        print(a, nparams(a, 1), nparams(a, 3))
