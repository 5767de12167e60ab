"""Tiny TFLite models written with the `tflite` schema builders, without TensorFlow (TESTING.md §7 route A).

`centernet_model(size, classes)` is a real CenterNet-style detector with known weights (2 classes by default, as
the shipped PPE model: no_hardhat, hardhat):
    pooled = AVERAGE_POOL_2D(image, 8×8, stride 8)                 [1, S/8, S/8, 3]
    heat   = LOGISTIC(CONV_2D 1×1(pooled))                         [1, S/8, S/8, classes]
             class c looks at colour channel c % 3: sigmoid(pixel/20 − 8)
             (255 → 0.991, 170 → 0.62, grey padding 114 → 0.09, black → 0.0003)
    boxes  = CONV_2D 1×1(pooled) with zero weights and bias (0.5, 0.5, ln 2, ln 2): every cell predicts a
             16×16 box centred on itself
so a bright 8×8 block of colour c on a black image gives one class-c detection on that block.
`fc_model()` is TESTING.md's FULLY_CONNECTED 4→3 + ADD model: a valid file of the wrong shape.
"""
from __future__ import annotations

import importlib
import math
from pathlib import Path

import flatbuffers
import numpy as np

FLOAT32 = 0
OP = {"ADD": 0, "AVERAGE_POOL_2D": 1, "CONV_2D": 3, "FULLY_CONNECTED": 9, "LOGISTIC": 14}
OPTIONS = {"Conv2DOptions": 1, "Pool2DOptions": 5, "FullyConnectedOptions": 8, "AddOptions": 11}
VALID = 1


def _m(name):
    return importlib.import_module(f"tflite.{name}")


class _Graph:
    def __init__(self):
        self.buffers: list[bytes] = [b""]  # buffer 0 is the empty one
        self.tensors: list[tuple[str, list[int], int]] = []  # name, shape, buffer
        self.ops: list[tuple[str, list[int], list[int], tuple | None]] = []

    def tensor(self, name: str, shape: list[int], data: np.ndarray | None = None) -> int:
        buf = 0
        if data is not None:
            self.buffers.append(np.ascontiguousarray(data, np.float32).tobytes())
            buf = len(self.buffers) - 1
        self.tensors.append((name, shape, buf))
        return len(self.tensors) - 1

    def op(self, kind: str, inputs: list[int], outputs: list[int], options: tuple | None = None) -> None:
        self.ops.append((kind, inputs, outputs, options))

    def build(self, inputs: list[int], outputs: list[int]) -> bytes:
        b = flatbuffers.Builder(1024)

        def ivec(start, values):
            start(b, len(values))
            for v in reversed(values):
                b.PrependInt32(v)
            return b.EndVector()

        def ovec(start, offsets):
            start(b, len(offsets))
            for o in reversed(offsets):
                b.PrependUOffsetTRelative(o)
            return b.EndVector()

        buf_offs = []
        for data in self.buffers:
            B = _m("Buffer")
            if data:
                b.StartVector(1, len(data), 16)
                b.head -= len(data)
                b.Bytes[b.head:b.head + len(data)] = data
                vec = b.EndVector()
            B.Start(b)
            if data:
                B.AddData(b, vec)
            buf_offs.append(B.End(b))

        T = _m("Tensor")
        ten_offs = []
        for name, shape, buf in self.tensors:
            n = b.CreateString(name)
            sh = ivec(T.StartShapeVector, shape)
            T.Start(b)
            T.AddShape(b, sh)
            T.AddType(b, FLOAT32)
            T.AddBuffer(b, buf)
            T.AddName(b, n)
            ten_offs.append(T.End(b))

        kinds = sorted({k for k, *_ in self.ops}, key=lambda k: OP[k])
        OC = _m("OperatorCode")
        code_offs = []
        for k in kinds:
            OC.Start(b)
            OC.AddDeprecatedBuiltinCode(b, OP[k])
            OC.AddBuiltinCode(b, OP[k])
            OC.AddVersion(b, 1)
            code_offs.append(OC.End(b))

        O = _m("Operator")
        op_offs = []
        for kind, ins, outs, options in self.ops:
            iv = ivec(O.StartInputsVector, ins)
            ov = ivec(O.StartOutputsVector, outs)
            opt = None
            if options:
                opt_name, fields = options
                mod = _m(opt_name)
                mod.Start(b)
                for field, value in fields.items():
                    getattr(mod, f"Add{field}")(b, value)
                opt = mod.End(b)
            O.Start(b)
            O.AddOpcodeIndex(b, kinds.index(kind))
            O.AddInputs(b, iv)
            O.AddOutputs(b, ov)
            if opt is not None:
                O.AddBuiltinOptionsType(b, OPTIONS[options[0]])
                O.AddBuiltinOptions(b, opt)
            op_offs.append(O.End(b))

        S = _m("SubGraph")
        tv = ovec(S.StartTensorsVector, ten_offs)
        iv = ivec(S.StartInputsVector, inputs)
        outv = ivec(S.StartOutputsVector, outputs)
        opv = ovec(S.StartOperatorsVector, op_offs)
        name = b.CreateString("main")
        S.Start(b)
        S.AddTensors(b, tv)
        S.AddInputs(b, iv)
        S.AddOutputs(b, outv)
        S.AddOperators(b, opv)
        S.AddName(b, name)
        sub = S.End(b)

        M = _m("Model")
        codes = ovec(M.StartOperatorCodesVector, code_offs)
        subs = ovec(M.StartSubgraphsVector, [sub])
        bufs = ovec(M.StartBuffersVector, buf_offs)
        desc = b.CreateString("tiny test model")
        M.Start(b)
        M.AddVersion(b, 3)
        M.AddOperatorCodes(b, codes)
        M.AddSubgraphs(b, subs)
        M.AddDescription(b, desc)
        M.AddBuffers(b, bufs)
        b.Finish(M.End(b), file_identifier=b"TFL3")
        return bytes(b.Output())


def centernet_model(path: Path, size: int = 64, classes: int = 2, box_cells: float = 2.0) -> Path:
    """Write the CenterNet-style test detector (see the module docstring) to `path`."""
    g = _Graph()
    grid = size // 8
    x = g.tensor("image", [1, size, size, 3])
    pooled = g.tensor("pooled", [1, grid, grid, 3])
    g.op("AVERAGE_POOL_2D", [x], [pooled], ("Pool2DOptions", {"Padding": VALID, "StrideW": 8, "StrideH": 8,
                                                             "FilterWidth": 8, "FilterHeight": 8}))
    wh = np.zeros((classes, 1, 1, 3), np.float32)
    for c in range(classes):
        wh[c, 0, 0, c % 3] = 1 / 20
    logits = g.tensor("logits", [1, grid, grid, classes])
    conv = ("Conv2DOptions", {"Padding": VALID, "StrideW": 1, "StrideH": 1})
    g.op("CONV_2D", [pooled, g.tensor("wh", [classes, 1, 1, 3], wh),
                     g.tensor("bh", [classes], np.full(classes, -8.0))], [logits], conv)
    heat = g.tensor("heatmap", [1, grid, grid, classes])
    g.op("LOGISTIC", [logits], [heat])
    boxes = g.tensor("boxes", [1, grid, grid, 4])
    lw = math.log(box_cells)
    g.op("CONV_2D", [pooled, g.tensor("wb", [4, 1, 1, 3], np.zeros((4, 1, 1, 3))),
                     g.tensor("bb", [4], np.array([0.5, 0.5, lw, lw]))], [boxes], conv)
    path.write_bytes(g.build([x], [heat, boxes]))
    return path


def fc_model(path: Path) -> Path:
    """FULLY_CONNECTED (4→3) + ADD: a working model whose input is [1, 4], not an image."""
    g = _Graph()
    x = g.tensor("x", [1, 4])
    y = g.tensor("y", [1, 3])
    w = np.arange(12, dtype=np.float32).reshape(3, 4) / 10
    g.op("FULLY_CONNECTED", [x, g.tensor("w", [3, 4], w), g.tensor("b", [3], np.array([0.5, 1.5, 2.5]))], [y],
         ("FullyConnectedOptions", {}))
    z = g.tensor("z", [1, 3])
    g.op("ADD", [y, g.tensor("c", [1, 3], np.array([[1.0, 2.0, 3.0]]))], [z], ("AddOptions", {}))
    path.write_bytes(g.build([x], [z]))
    return path
