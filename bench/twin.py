#!/usr/bin/python3
"""The PyTorch twin of any netc model, for the speed comparisons of bench/schedules.py: the same
layers (torch.nn modules named as netc names the layers, so the state_dict keys are netc's tensor
names), loss, regularization, batch and optimizer, read from `netc --emit=graph FILE`.

  bench/twin.py FILE [--netc PATH]     prints the twin's modules and its settings

The ops a twin can have: conv2d, dense, batchnorm, relu, tanh, sigmoid, leaky_relu, elu, gelu,
maxpool, avgpool, global_avgpool, flatten, add, concat, dropout, stochastic_depth. Another op is
an error naming it; so is a kNN model (it has no training step).
"""
import argparse
import os
import re
import subprocess
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NODE = re.compile(r"^\s+%(\d+) (\S+) = (\w+)(?:\(([^)]*)\))?((?: \S+=\S+)*) : (\S+)")
SETTING = re.compile(r"^\s+(loss|regularize|optimizer) (\w+)\(([^)]*)\)")
ATTR = re.compile(r"(\w+)=(\S+)")
OPS = {"conv2d", "dense", "batchnorm", "relu", "tanh", "sigmoid", "leaky_relu", "elu", "gelu",
       "maxpool", "avgpool", "global_avgpool", "flatten", "add", "concat", "dropout",
       "stochastic_depth"}


class NoTwin(Exception):
    """A model bench/twin.py cannot build a twin of: its message says why."""


def number(text):
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return {"true": True, "false": False}.get(text, text)


def attrs_of(text):
    return {k: number(v) for k, v in ATTR.findall(text)}


def read_graph(netc, path):
    """The nodes (id, name, op, inputs, attrs, shape) and the settings of `netc --emit=graph`."""
    dump = subprocess.run([netc, "--emit=graph", path], capture_output=True, text=True)
    if dump.returncode != 0:
        sys.exit("%s --emit=graph %s failed:\n%s" % (netc, path, dump.stderr))
    nodes, settings = [], {}
    for line in dump.stdout.splitlines():
        m = NODE.match(line)
        if m:
            inputs = [int(i) for i in re.findall(r"%(\d+)", m[4] or "")]
            shape = [int(d) for d in m[6].split("x")]
            nodes.append(dict(id=int(m[1]), name=m[2], op=m[3], inputs=inputs,
                              attrs=attrs_of(m[5]), shape=shape))
            continue
        m = SETTING.match(line)
        if m:
            settings[m[1]] = (m[2], attrs_of(m[3]))
            continue
        m = re.match(r"^\s+batch (\d+)", line)
        if m:
            settings["batch"] = int(m[1])
        if re.match(r"^\s+classify ", line):
            raise NoTwin("%s: a kNN model has no training step to compare" % path)
    return nodes, settings


class Twin(nn.Module):
    """The layers of a netc graph, applied in its order."""

    def __init__(self, nodes):
        super().__init__()
        self.nodes = nodes
        shapes = {n["id"]: n["shape"] for n in nodes}
        for n in nodes[1:]:
            a, op = n["attrs"], n["op"]
            cin = shapes[n["inputs"][0]]
            if op == "conv2d":
                module = nn.Conv2d(cin[0], a["filters"], a["kernel"], stride=a["stride"],
                                   padding=a["pad"], dilation=a["dilation"], bias=a["bias"])
            elif op == "dense":
                module = nn.Linear(cin[0], a["units"], bias=a["bias"])
            elif op == "batchnorm":
                norm = nn.BatchNorm2d if len(cin) == 3 else nn.BatchNorm1d
                module = norm(cin[0], eps=a["eps"], momentum=a["momentum"], affine=a["affine"])
            else:
                continue
            self.add_module(n["name"], module)

    def forward(self, x):
        values = {0: x}
        for n in self.nodes[1:]:
            a, op = n["attrs"], n["op"]
            xs = [values[i] for i in n["inputs"]]
            if op in ("conv2d", "dense", "batchnorm"):
                y = getattr(self, n["name"])(xs[0])
            elif op in ("relu", "tanh", "sigmoid"):
                y = getattr(torch, op)(xs[0])
            elif op == "leaky_relu":
                y = F.leaky_relu(xs[0], a["alpha"])
            elif op == "elu":
                y = F.elu(xs[0], a["alpha"])
            elif op == "gelu":
                y = F.gelu(xs[0], approximate=a["approximate"])
            elif op in ("maxpool", "avgpool"):
                kernel = a["kernel"]
                stride, pad = a.get("stride", kernel), a.get("pad", 0)
                y = (F.max_pool2d(xs[0], kernel, stride, pad) if op == "maxpool" else
                     F.avg_pool2d(xs[0], kernel, stride, pad, count_include_pad=True))
            elif op == "global_avgpool":
                y = torch.flatten(F.adaptive_avg_pool2d(xs[0], 1), 1)
            elif op == "flatten":
                y = torch.flatten(xs[0], 1)
            elif op == "add":
                y = xs[0]
                for other in xs[1:]:
                    y = y + other
            elif op == "concat":
                y = torch.cat(xs, 1)
            elif op == "dropout":
                y = F.dropout(xs[0], a["p"], self.training)
            elif op == "stochastic_depth":  # torchvision's: a sample's (or the batch's) branch
                y = xs[0]
                if self.training and a["p"] > 0:
                    rows = y.shape[0] if a["mode"] == "row" else 1
                    keep = torch.empty((rows,) + (1,) * (y.dim() - 1)).bernoulli_(1 - a["p"])
                    y = y * keep / (1 - a["p"])
            else:
                raise NoTwin("op %s (layer %s) has no PyTorch twin in bench/twin.py" %
                             (op, n["name"]))
            values[n["id"]] = y
        return values[self.nodes[-1]["id"]]


def svm_loss(scores, labels, margin):
    """netc's svm: the batch mean of sum over k != y of max(0, s_k - s_y + margin)."""
    true = scores.gather(1, labels[:, None])
    hinge = F.relu(scores - true + margin)
    return (hinge.sum(1) - margin).mean()  # the true class contributes exactly the margin


def optimizer_of(name, a):
    lr = a["lr"]
    if name == "sgd":
        return lambda p: torch.optim.SGD(p, lr=lr)
    if name in ("momentum", "nesterov"):
        return lambda p: torch.optim.SGD(p, lr=lr, momentum=a["rho"],
                                         nesterov=name == "nesterov")
    if name == "adagrad":
        return lambda p: torch.optim.Adagrad(p, lr=lr, eps=a["eps"])
    if name == "rmsprop":
        return lambda p: torch.optim.RMSprop(p, lr=lr, alpha=a["decay"], eps=a["eps"])
    betas = (a["beta1"], a["beta2"])
    if name == "adam":
        return lambda p: torch.optim.Adam(p, lr=lr, betas=betas, eps=a["eps"])
    return lambda p: torch.optim.AdamW(p, lr=lr, betas=betas, eps=a["eps"],
                                       weight_decay=a["weight_decay"])


def setup(path, netc=os.path.join(ROOT, "build", "netc")):
    """What bench/schedules.py times: model (a constructor), loss, l2 (the strength on weights,
    0 for none; an l1 or elastic-net regularizer is refused), batch, input shape, optimizer."""
    nodes, settings = read_graph(netc, path)
    loss_name, loss_attrs = settings["loss"]
    if loss_name == "svm":
        def loss(scores, labels):
            return svm_loss(scores, labels, loss_attrs["margin"])
    else:
        def loss(scores, labels):
            return F.cross_entropy(scores, labels,
                                   label_smoothing=loss_attrs.get("label_smoothing", 0))
    l2 = 0.0
    if "regularize" in settings:
        reg, reg_attrs = settings["regularize"]
        if reg != "l2" or reg_attrs.get("biases") or reg_attrs.get("norms"):
            raise NoTwin("%s: only l2 on weights has a twin here, not %s %s" % (path, reg,
                                                                                reg_attrs))
        l2 = reg_attrs["strength"]
    unknown = [n for n in nodes[1:] if n["op"] not in OPS]
    if unknown:
        raise NoTwin("%s: op %s (layer %s) has no PyTorch twin in bench/twin.py" %
                     (path, unknown[0]["op"], unknown[0]["name"]))
    return dict(model=lambda: Twin(nodes), loss=loss, l2=l2, batch=settings["batch"],
                input=tuple(nodes[0]["shape"]), optimizer=optimizer_of(*settings["optimizer"]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("file")
    parser.add_argument("--netc", default=os.path.join(ROOT, "build", "netc"))
    args = parser.parse_args()
    try:
        s = setup(args.file, args.netc)
    except NoTwin as e:
        sys.exit(str(e))
    model = s["model"]()
    print(model)
    print("parameters: %s" % ", ".join("%s %s" % (k, list(v.shape))
                                       for k, v in model.state_dict().items()))
    print("batch %d, input %s, l2 %g, optimizer %s" % (s["batch"], s["input"], s["l2"],
                                                       s["optimizer"]([torch.zeros(1)])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
