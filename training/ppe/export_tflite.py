"""Stage 3b (TensorFlow venv, TESTING.md §7 route B): rebuild the network from export_weights.py's program in
Keras, check it against the torch outputs, and convert it to a full-integer (int8) TFLite file calibrated on
training images.

    python -m training.ppe.export_tflite --program training/ppe/work/program.npz \
        --data ../shared/data/hardhat_workers --out models/ppe/ppe_mnv2_384_int8.tflite --size 384

The file takes uint8 RGB pixels [1, S, S, 3] for S = --size (normalisation is its first layer) and gives two
float32 outputs: heat [1, S/8, S/8, C] (sigmoid scores) and boxes [1, S/8, S/8, 4] (models/postprocess.py).
"""
from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow import keras

from training.ppe.data import list_images, load_example


def build_keras(program: dict, size: int) -> keras.Model:
    ops = json.loads(str(program["ops"]))
    inp = keras.Input((size, size, 3), batch_size=1, name="image")
    v: dict[str, object] = {"input": inp}
    outputs = None
    for op in ops:
        kind = op["op"]
        if kind == "normalize":  # x·scale + bias per channel, as a 1×1 depthwise conv (quantises cleanly)
            layer = keras.layers.DepthwiseConv2D(1, name="normalize")
            v[op["dst"]] = layer(v[op["src"]])
            layer.set_weights([program["norm.scale"].reshape(1, 1, 3, 1), program["norm.bias"]])
        elif kind == "conv":
            w, b = program[op["dst"] + ".w"], program[op["dst"] + ".b"]
            x = v[op["src"]]
            k, stride, groups = op["k"], op["stride"], op["groups"]
            if k > 1 and stride > 1:  # torch pads k//2 on every side; Keras "same" would pad bottom/right only
                x = keras.layers.ZeroPadding2D(k // 2, name=f"{op['dst']}_pad")(x)
                padding = "valid"
            else:
                padding = "same" if k > 1 else "valid"
            if groups == 1:
                layer = keras.layers.Conv2D(w.shape[0], k, strides=stride, padding=padding, name=op["dst"])
                x = layer(x)
                layer.set_weights([w.transpose(2, 3, 1, 0), b])
            elif groups == w.shape[0] and w.shape[1] == 1:
                layer = keras.layers.DepthwiseConv2D(k, strides=stride, padding=padding, name=op["dst"])
                x = layer(x)
                layer.set_weights([w.transpose(2, 3, 0, 1), b])
            else:
                raise ValueError(f"grouped conv with {groups} groups is not supported")
            if op["act"] == "relu6":
                x = keras.layers.ReLU(6.0, name=f"{op['dst']}_relu6")(x)
            elif op["act"] == "relu":
                x = keras.layers.ReLU(name=f"{op['dst']}_relu")(x)
            v[op["dst"]] = x
        elif kind == "add":
            v[op["dst"]] = keras.layers.Add(name=op["dst"])([v[op["a"]], v[op["b"]]])
        elif kind == "up2":
            v[op["dst"]] = keras.layers.UpSampling2D(2, interpolation="nearest", name=op["dst"])(v[op["a"]])
        elif kind == "sigmoid":
            v[op["dst"]] = keras.layers.Activation("sigmoid", name=op["dst"])(v[op["a"]])
        elif kind == "outputs":
            outputs = [v[op["heat"]], v[op["reg"]]]
        else:
            raise ValueError(f"unknown op {kind}")
    return keras.Model(inp, outputs, name="ppe_centernet")


def calibration_images(data: Path, size: int, count: int, seed: int = 0) -> list[np.ndarray]:
    root = data / "train"
    images = list_images(root)
    random.Random(seed).shuffle(images)
    return [load_example(root, p, size, flip=bool(i % 2))[0] for i, p in enumerate(images[:count])]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--program", type=Path, required=True)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--size", type=int, default=320)
    ap.add_argument("--calibration", type=int, default=300, help="training images for int8 calibration")
    ap.add_argument("--float", action="store_true", help="also write a float32 file beside it (for comparison)")
    args = ap.parse_args(argv)
    program = dict(np.load(args.program))
    model = build_keras(program, args.size)

    # the rebuilt network must give what torch gave (on the check images, at their size: the network is fully
    # convolutional, so weights trained at 320 can be written for another --size)
    images = program["check.images"].astype(np.float32)
    check = model if images.shape[1] == args.size else build_keras(program, images.shape[1])
    heat, reg = [], []
    for im in images:
        h, r = check(im[None], training=False)
        heat.append(np.asarray(h)[0])
        reg.append(np.asarray(r)[0])
    dh = np.abs(np.stack(heat) - program["check.heat"]).max()
    dr = np.abs(np.stack(reg) - program["check.reg"]).max()
    print(f"keras vs torch: max |Δheat| {dh:.2e}, max |Δboxes| {dr:.2e}")
    if dh > 1e-3 or dr > 1e-2:
        raise SystemExit("the Keras rebuild does not match the torch model")

    calib = calibration_images(args.data, args.size, args.calibration)

    def representative():
        for im in calib:
            yield [im[None].astype(np.float32)]

    if args.float:
        conv = tf.lite.TFLiteConverter.from_keras_model(model)
        path = args.out.with_name(args.out.stem.replace("int8", "float32") + ".tflite")
        path.write_bytes(conv.convert())
        print(f"wrote {path} ({path.stat().st_size} bytes)")
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.uint8
    conv.inference_output_type = tf.float32
    args.out.write_bytes(conv.convert())
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")

    if images.shape[1] != args.size:
        print(f"int8 check skipped: the check images are {images.shape[1]} px, the file takes {args.size}")
        return 0
    interp = tf.lite.Interpreter(model_path=str(args.out))
    interp.allocate_tensors()
    i = interp.get_input_details()[0]
    outs = interp.get_output_details()
    dq = []
    for k, im in enumerate(program["check.images"]):
        interp.set_tensor(i["index"], im[None].astype(np.uint8))
        interp.invoke()
        got = {o["shape"][-1]: interp.get_tensor(o["index"])[0] for o in outs}
        dq.append(np.abs(got[program["check.heat"].shape[-1]] - program["check.heat"][k]).max())
    print(f"int8 vs torch: max |Δheat| {max(dq):.3f} (quantisation)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
