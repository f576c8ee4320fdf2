#!/usr/bin/env python3
"""Convert a TF.js graph model (model.json + .bin shards) to ONNX (opset 17).

Usage: /usr/bin/python3 tfjs_to_onnx.py MODEL.json OUT.onnx [--input-shape NAME=1,H,W,C] [--list-ops]

Needs only numpy and onnx (Debian: python3-numpy python3-onnx). Every tensor shape
is static (unknown -1 dims of the inputs are fixed, batch to 1 by default), which lets
the converter fold shape arithmetic and compute TF 'SAME' padding as explicit pads.

Layout: the ONNX inputs/outputs keep the TF.js layout (e.g. NHWC). Internally each
value carries a pending permutation ("logical = transpose(physical, perm)"), so
NHWC->NCHW transposes are only emitted where an op really needs another layout;
chains of conv/elementwise ops run in NCHW without transposes in between.
"""
import argparse, base64, json, os
import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

TF_DT = {'DT_FLOAT': np.float32, 'DT_INT32': np.int32, 'DT_INT64': np.int64, 'DT_BOOL': np.bool_,
         'DT_HALF': np.float16, 'DT_UINT8': np.uint8, 'DT_INT8': np.int8, 'DT_DOUBLE': np.float64}
ONNX_DT = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.int32): TensorProto.INT32,
           np.dtype(np.int64): TensorProto.INT64, np.dtype(np.bool_): TensorProto.BOOL,
           np.dtype(np.float16): TensorProto.FLOAT16, np.dtype(np.uint8): TensorProto.UINT8,
           np.dtype(np.int8): TensorProto.INT8, np.dtype(np.float64): TensorProto.DOUBLE}
UNARY = {'Relu': 'Relu', 'Sigmoid': 'Sigmoid', 'Tanh': 'Tanh', 'Abs': 'Abs', 'Neg': 'Neg', 'Exp': 'Exp',
         'Log': 'Log', 'Sqrt': 'Sqrt', 'Elu': 'Elu', 'Selu': 'Selu', 'Softplus': 'Softplus',
         'Floor': 'Floor', 'Ceil': 'Ceil', 'Round': 'Round', 'Reciprocal': 'Reciprocal', 'Sign': 'Sign'}
BINARY = {'Add': ('Add', np.add), 'AddV2': ('Add', np.add), 'BiasAdd': ('Add', np.add),
          'Sub': ('Sub', np.subtract), 'Mul': ('Mul', np.multiply), 'RealDiv': ('Div', np.divide),
          'Div': ('Div', np.divide), 'Maximum': ('Max', np.maximum), 'Minimum': ('Min', np.minimum),
          'Pow': ('Pow', np.power), 'FloorDiv': ('Div', np.floor_divide)}
REDUCE = {'Mean': 'ReduceMean', 'Sum': 'ReduceSum', 'Max': 'ReduceMax', 'Min': 'ReduceMin', 'Prod': 'ReduceProd'}
TO_NCHW, TO_NHWC = [0, 3, 1, 2], [0, 2, 3, 1]


class V:
    """A non-constant TF value: ONNX tensor `name`; TF (logical) value = transpose(name, perm)."""
    def __init__(self, name, shape, dtype=np.float32, perm=None):
        self.name, self.shape, self.dtype = name, tuple(int(d) for d in shape), np.dtype(dtype)
        self.perm = None if perm is None or list(perm) == list(range(len(perm))) else list(perm)


def inv(p):
    return [int(i) for i in np.argsort(p)]


def attr(n, key, default=None):
    a = n.get('attr', {}).get(key)
    if a is None:
        return default
    if 's' in a:
        return base64.b64decode(a['s']).decode()
    if 'list' in a:
        l = a['list']
        if 's' in l:
            return [base64.b64decode(x).decode() for x in l['s']]
        return [int(x) for x in l['i']] if 'i' in l else [float(x) for x in l.get('f', [])]
    if 'i' in a:
        return int(a['i'])
    if 'f' in a:
        return float(a['f'])
    if 'b' in a:
        return bool(a['b'])
    if 'type' in a:
        return a['type']
    return a


def load_weights(model_dir, manifest):
    """Read weight shards; dequantize uint8/uint16 (q*scale+min) and float16 like tfjs does."""
    out = {}
    for group in manifest:
        data = b''.join(open(os.path.join(model_dir, p), 'rb').read() for p in group['paths'])
        off = 0
        for w in group['weights']:
            n = int(np.prod(w['shape'], dtype=np.int64))
            q, dt = w.get('quantization'), w['dtype']
            if dt == 'string':
                raise NotImplementedError('string weights')
            raw = {'float32': '<f4', 'int32': '<i4', 'bool': 'u1'}[dt]
            if q:
                raw = {'uint8': 'u1', 'uint16': '<u2', 'float16': '<f2'}[q['dtype']]
            a = np.frombuffer(data, raw, n, off)
            off += a.nbytes
            if q and q['dtype'] != 'float16':
                a = a.astype(np.float64) * q['scale'] + q['min']
                a = np.round(a) if dt == 'int32' else a
            a = a.astype({'float32': np.float32, 'int32': np.int32, 'bool': np.bool_}[dt])
            out[w['name']] = a.reshape(w['shape'])
    return out


def inline_const(n):
    t = n['attr']['value']['tensor']
    dt = TF_DT[t['dtype']]
    shape = [int(d['size']) for d in t.get('tensorShape', {}).get('dim', [])]
    if 'tensorContent' in t:
        return np.frombuffer(base64.b64decode(t['tensorContent']), dt).reshape(shape)
    vals = t.get('floatVal') or t.get('intVal') or t.get('int64Val') or t.get('boolVal') or [0]
    return np.broadcast_to(np.array(vals, dt), shape).copy() if len(vals) == 1 else np.array(vals, dt).reshape(shape)


def same_pads(size, k, s, d):
    """TF 'SAME': output = ceil(in/stride); the odd pixel of padding goes at the end."""
    eff = (k - 1) * d + 1
    total = max((-(-size // s) - 1) * s + eff - size, 0)
    return total // 2, total - total // 2


class Converter:
    def __init__(self, model_json, input_shapes=None):
        self.j = json.load(open(model_json))
        self.nodes = {n['name']: n for n in self.j['modelTopology']['node']}
        self.weights = load_weights(os.path.dirname(os.path.abspath(model_json)), self.j['weightsManifest'])
        self.input_shapes = input_shapes or {}
        self.vals, self.onnx_nodes, self.inits, self.cache, self.uid = {}, [], {}, {}, 0

    # ---------- emission helpers ----------
    def fresh(self, hint):
        self.uid += 1
        return '%s__%d' % (hint, self.uid)

    def emit(self, op, inputs, hint, n_out=1, **attrs):
        outs = [self.fresh(hint) for _ in range(n_out)]
        self.onnx_nodes.append(helper.make_node(op, inputs, outs, name=outs[0], **attrs))
        return outs if n_out > 1 else outs[0]

    def const(self, a, hint='const'):
        a = np.asarray(a)
        key = (a.dtype.str, a.shape, a.tobytes())
        if key not in self.cache:
            name = self.fresh(hint)
            self.inits[name] = numpy_helper.from_array(a, name)
            self.cache[key] = name
        return self.cache[key]

    def i64(self, a):
        return self.const(np.asarray(a, np.int64), 'i64')

    def phys(self, v, want=None):
        """ONNX tensor holding transpose(logical value, want) (want=None: the logical value)."""
        if isinstance(v, np.ndarray):
            return self.const(v if want is None else v.transpose(want))
        p = v.perm or list(range(len(v.shape)))
        q = [p[i] for i in want] if want is not None else p
        if q == list(range(len(q))):
            return v.name
        key = ('T', v.name, tuple(q))
        if key not in self.cache:
            self.cache[key] = self.emit('Transpose', [v.name], 'transpose', perm=q)
        return self.cache[key]

    def val(self, ref):
        ref = ref.lstrip('^')
        name, _, idx = ref.partition(':')
        return self.vals[(name, int(idx or 0))]

    # ---------- conversion driver ----------
    def input_names(self):
        sig = self.j.get('signature', {}).get('inputs')
        if sig:
            return [v['name'].split(':')[0] for v in sig.values()]
        return [n['name'] for n in self.j['modelTopology']['node'] if n['op'] == 'Placeholder']

    def output_refs(self):
        sig = self.j.get('signature', {}).get('outputs')
        if sig:
            return [v['name'] for v in sig.values()]
        used = {i.lstrip('^').split(':')[0] for n in self.nodes.values() for i in n.get('input', [])}
        return [n for n, d in self.nodes.items() if n not in used and d['op'] not in ('Const', 'Placeholder', 'NoOp')]

    def topo(self):
        order, state = [], {}
        for root in self.nodes:
            stack = [(root, False)]
            while stack:
                name, done = stack.pop()
                if done:
                    state[name] = 2
                    order.append(name)
                    continue
                if state.get(name):
                    continue
                state[name] = 1
                stack.append((name, True))
                for i in self.nodes[name].get('input', []):
                    dep = i.lstrip('^').split(':')[0]
                    if not state.get(dep):
                        stack.append((dep, False))
        return order

    def convert(self):
        g_inputs = []
        for name in self.topo():
            n = self.nodes[name]
            op = n['op']
            if op == 'Placeholder':
                shape = [int(d['size']) for d in n['attr']['shape']['shape']['dim']]
                shape = self.input_shapes.get(name, [1 if d < 0 else d for d in shape])
                dt = np.dtype(TF_DT[attr(n, 'dtype', 'DT_FLOAT')])
                g_inputs.append(helper.make_tensor_value_info(name, ONNX_DT[dt], shape))
                self.vals[(name, 0)] = V(name, shape, dt)
                continue
            if op == 'Const':
                out = self.weights[name] if name in self.weights else inline_const(n)
            else:
                ins = [self.val(i) for i in n.get('input', []) if not i.startswith('^')]
                handler = getattr(self, 'op_' + op, None)
                if op in UNARY:
                    out = self.unary(UNARY[op], ins[0], n)
                elif op in BINARY:
                    out = self.binary(op, ins[0], ins[1], n)
                elif op in REDUCE:
                    out = self.reduce(REDUCE[op], ins, n)
                elif handler is None:
                    raise NotImplementedError('unsupported op %s (%s)' % (op, name))
                else:
                    out = handler(n, ins)
            for k, o in enumerate(out if isinstance(out, list) else [out]):
                self.vals[(name, k)] = o
        order = self.input_names()
        g_inputs.sort(key=lambda i: order.index(i.name) if i.name in order else len(order))
        outputs, renames = [], {}
        for ref in self.output_refs():
            v = self.val(ref)
            oname = ref[:-2] if ref.endswith(':0') else ref
            if isinstance(v, np.ndarray):
                self.onnx_nodes.append(helper.make_node('Identity', [self.const(v)], [oname]))
                shape, dt = v.shape, v.dtype
            else:
                src, shape, dt = self.phys(v), v.shape, v.dtype
                if src in renames.values() or src in [i.name for i in g_inputs]:
                    self.onnx_nodes.append(helper.make_node('Identity', [src], [oname]))
                else:
                    renames[src] = oname
            outputs.append(helper.make_tensor_value_info(oname, ONNX_DT[np.dtype(dt)], list(shape)))
        for nd in self.onnx_nodes:
            nd.input[:] = [renames.get(i, i) for i in nd.input]
            nd.output[:] = [renames.get(o, o) for o in nd.output]
        self.fold_pads()
        self.fold_bias()
        self.prune([o.name for o in outputs])
        graph = helper.make_graph(self.onnx_nodes, 'tfjs_graph', g_inputs, outputs, list(self.inits.values()))
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)], producer_name='corun-tfjs_to_onnx')
        m.ir_version = 8
        onnx.checker.check_model(m)
        return onnx.shape_inference.infer_shapes(m, check_type=True, strict_mode=True)

    # ---------- ONNX-level clean-ups ----------
    def consumers(self):
        c = {}
        for nd in self.onnx_nodes:
            for i in nd.input:
                c.setdefault(i, []).append(nd)
        return c

    def fold_pads(self):
        """Pad(constant, spatial only) -> Conv / MaxPool: merge into the op's pads."""
        prod = {nd.output[0]: nd for nd in self.onnx_nodes}
        cons = self.consumers()
        for nd in self.onnx_nodes:
            if nd.op_type not in ('Conv', 'MaxPool'):
                continue
            pad = prod.get(nd.input[0])
            if pad is None or pad.op_type != 'Pad' or len(cons[pad.output[0]]) != 1:
                continue
            mode = next((a.s for a in pad.attribute if a.name == 'mode'), b'constant')
            pads = numpy_helper.to_array(self.inits[pad.input[1]])
            value = numpy_helper.to_array(self.inits[pad.input[2]]) if len(pad.input) > 2 and pad.input[2] else 0
            ok_val = value == 0 if nd.op_type == 'Conv' else value == -np.inf
            if mode != b'constant' or not ok_val or len(pads) != 8 or pads[[0, 1, 4, 5]].any() or (pads < 0).any():
                continue
            a = next(a for a in nd.attribute if a.name == 'pads')
            old = list(a.ints)
            a.ints[:] = [old[0] + pads[2], old[1] + pads[3], old[2] + pads[6], old[3] + pads[7]]
            nd.input[0] = pad.input[0]

    def fold_bias(self):
        """Conv (no bias) -> Add(const [1,C,1,1]) becomes Conv with bias."""
        prod = {nd.output[0]: nd for nd in self.onnx_nodes}
        cons = self.consumers()
        for nd in self.onnx_nodes:
            if nd.op_type != 'Add':
                continue
            for k in (0, 1):
                conv, b = prod.get(nd.input[k]), self.inits.get(nd.input[1 - k])
                if conv is None or conv.op_type != 'Conv' or len(conv.input) != 2 or b is None \
                        or len(cons[conv.output[0]]) != 1:
                    continue
                b = numpy_helper.to_array(b)
                cout = numpy_helper.to_array(self.inits[conv.input[1]]).shape[0]
                if b.dtype != np.float32 or b.size != cout or b.ndim not in (3, 4) or b.shape[-3] != cout:
                    continue
                conv.input.append(self.const(b.reshape(-1), 'bias'))
                conv.output[0] = nd.output[0]
                nd.op_type = 'DEAD'
                break
        self.onnx_nodes = [nd for nd in self.onnx_nodes if nd.op_type != 'DEAD']

    def prune(self, outputs):
        live, needed = [], set(outputs)
        for nd in reversed(self.onnx_nodes):
            if any(o in needed for o in nd.output):
                live.append(nd)
                needed.update(i for i in nd.input if i)
        self.onnx_nodes = live[::-1]
        self.inits = {k: v for k, v in self.inits.items() if k in needed}

    # ---------- generic op families ----------
    def unary(self, op, x, n, **kw):
        if op == 'Elu':
            kw.setdefault('alpha', 1.0)
        if isinstance(x, np.ndarray):
            raise NotImplementedError('constant folding of %s' % op)
        return V(self.emit(op, [x.name], op.lower(), **kw), x.shape, x.dtype, x.perm)

    def binary(self, op, a, b, n):
        onnx_op, fn = BINARY[op]
        if op == 'BiasAdd' and attr(n, 'data_format', 'NHWC') == 'NCHW':
            b = b.reshape(-1, *([1] * (len(a.shape) - 2)))
        if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
            return fn(a, b).astype(np.result_type(a, b))
        shape = np.broadcast_shapes(a.shape, b.shape)
        dt = a.dtype if isinstance(a, V) else b.dtype
        vs = [x for x in (a, b) if isinstance(x, V)]
        perm = vs[0].perm if all(len(x.shape) == len(shape) and x.perm == vs[0].perm for x in vs) else None
        names = []
        for x in (a, b):
            if isinstance(x, np.ndarray):
                x = x.astype(dt).reshape((1,) * (len(shape) - x.ndim) + x.shape)
                names.append(self.const(x if perm is None else x.transpose(inv(perm))))
            else:
                names.append(x.name if perm else self.phys(x))
        out = V(self.emit(onnx_op, names, onnx_op.lower()), shape, dt, perm)
        if op == 'FloorDiv':
            out.name = self.emit('Floor', [out.name], 'floor')
        return out

    def reduce(self, op, ins, n):
        x, axes = ins[0], [int(a) % len(ins[0].shape) for a in np.atleast_1d(ins[1])]
        keep = attr(n, 'keep_dims', False)
        p = x.perm or list(range(len(x.shape)))
        paxes = sorted(p[a] for a in axes)
        if op == 'ReduceSum':
            out = self.emit(op, [x.name, self.i64(paxes)], 'reduce', keepdims=int(keep))
        else:
            out = self.emit(op, [x.name], 'reduce', axes=paxes, keepdims=int(keep))
        shape = [1 if i in axes else d for i, d in enumerate(x.shape) if keep or i not in axes]
        if keep:
            return V(out, shape, x.dtype, x.perm)
        kept = [i for i in range(len(x.shape)) if i not in axes]
        remaining = sorted(p[i] for i in kept)
        return V(out, shape, x.dtype, [remaining.index(p[i]) for i in kept])

    def activation(self, name, kind, n, args, cshape):
        if kind in ('Relu', 'Sigmoid', 'Tanh', 'Elu', 'Selu'):
            return self.emit(kind, [name], kind.lower(), **({'alpha': 1.0} if kind == 'Elu' else {}))
        if kind == 'Relu6':
            return self.emit('Clip', [name, self.const(np.float32(0)), self.const(np.float32(6))], 'relu6')
        if kind == 'LeakyRelu':
            return self.emit('LeakyRelu', [name], 'leakyrelu', alpha=attr(n, 'leakyrelu_alpha', 0.2))
        if kind == 'Prelu':
            return self.emit('PRelu', [name, self.const(args.pop(0).astype(np.float32).reshape(cshape))], 'prelu')
        raise NotImplementedError('fused activation ' + kind)

    def spatial(self, n, hw, ksize, strides, dil):
        padding = attr(n, 'padding', 'VALID')
        if padding == 'SAME':
            (t, b), (l, r) = [same_pads(hw[i], ksize[i], strides[i], dil[i]) for i in (0, 1)]
        elif padding == 'EXPLICIT':
            e = attr(n, 'explicit_paddings')
            e = e[2:6] if attr(n, 'data_format', 'NHWC') == 'NHWC' else e[4:8]
            t, b, l, r = e
        else:
            t = b = l = r = 0
        out = [(hw[i] + p - ((ksize[i] - 1) * dil[i] + 1)) // strides[i] + 1 for i, p in ((0, t + b), (1, l + r))]
        return [t, l, b, r], out

    def nchw_io(self, n, x):
        nhwc = attr(n, 'data_format', 'NHWC') == 'NHWC'
        xin = self.phys(x, TO_NCHW) if nhwc else self.phys(x)
        N, H, W, C = x.shape if nhwc else [x.shape[i] for i in TO_NHWC]
        sel = (lambda l: [l[1], l[2]]) if nhwc else (lambda l: [l[2], l[3]])
        wrap = (lambda name, oh, ow, co: V(name, (N, oh, ow, co), x.dtype, TO_NHWC)) if nhwc else \
            (lambda name, oh, ow, co: V(name, (N, co, oh, ow), x.dtype))
        return xin, (N, H, W, C), sel, wrap

    # ---------- individual ops ----------
    def op_Identity(self, n, ins):
        return ins[0]
    op_StopGradient = op_Snapshot = op_Identity

    def op_AddN(self, n, ins):
        out = ins[0]
        for x in ins[1:]:
            out = self.binary('Add', out, x, n)
        return out

    def op_IdentityN(self, n, ins):
        return list(ins)

    def conv(self, n, ins, depthwise):
        x, w, args = ins[0], ins[1].astype(np.float32), list(ins[2:])
        xin, (N, H, W, C), sel, wrap = self.nchw_io(n, x)
        kh, kw, ci, co = w.shape
        if depthwise:
            w, group, cout = w.reshape(kh, kw, 1, ci * co).transpose(3, 2, 0, 1), ci, ci * co
        else:
            w, group, cout = w.transpose(3, 2, 0, 1), C // ci, co
        strides, dil = sel(attr(n, 'strides', [1] * 4)), sel(attr(n, 'dilations', [1] * 4))
        pads, (oh, ow) = self.spatial(n, (H, W), (kh, kw), strides, dil)
        fused, bias = attr(n, 'fused_ops', []), None
        if fused and fused[0] == 'BiasAdd':
            bias, fused = args.pop(0).astype(np.float32), fused[1:]
        elif fused and fused[0] == 'FusedBatchNorm':
            scale, offset, mean, var = [args.pop(0).astype(np.float32) for _ in range(4)]
            s = scale / np.sqrt(var + attr(n, 'epsilon', 0.0))
            w, bias, fused = w * s.reshape(-1, 1, 1, 1), offset - mean * s, fused[1:]
        inputs = [xin, self.const(np.ascontiguousarray(w), 'weight')] + ([self.const(bias, 'bias')] if bias is not None else [])
        y = self.emit('Conv', inputs, 'conv', kernel_shape=[kh, kw], strides=strides, dilations=dil,
                      pads=pads, group=group)
        for kind in fused:
            y = self.activation(y, kind, n, args, (-1, 1, 1))
        return wrap(y, oh, ow, cout)

    def op_Conv2D(self, n, ins):
        return self.conv(n, ins, False)
    op__FusedConv2D = op_Conv2D

    def op_DepthwiseConv2dNative(self, n, ins):
        return self.conv(n, ins, True)
    op_FusedDepthwiseConv2dNative = op_DepthwiseConv2dNative

    def pool(self, n, ins, onnx_op):
        xin, (N, H, W, C), sel, wrap = self.nchw_io(n, ins[0])
        k, s = sel(attr(n, 'ksize')), sel(attr(n, 'strides'))
        pads, (oh, ow) = self.spatial(n, (H, W), k, s, [1, 1])
        return wrap(self.emit(onnx_op, [xin], 'pool', kernel_shape=k, strides=s, pads=pads), oh, ow, C)

    def op_MaxPool(self, n, ins):
        return self.pool(n, ins, 'MaxPool')

    def op_AvgPool(self, n, ins):
        return self.pool(n, ins, 'AveragePool')

    def op_Relu6(self, n, ins):
        x = ins[0]
        return V(self.activation(x.name, 'Relu6', n, [], None), x.shape, x.dtype, x.perm)

    def op_LeakyRelu(self, n, ins):
        return self.unary('LeakyRelu', ins[0], n, alpha=attr(n, 'alpha', 0.2))

    def op_Prelu(self, n, ins):
        x, alpha = ins
        return self.binary_like('PRelu', x, alpha.astype(np.float32))

    def binary_like(self, op, x, c):
        c = c.reshape((1,) * (len(x.shape) - c.ndim) + c.shape)
        c = c if x.perm is None else c.transpose(inv(x.perm))
        return V(self.emit(op, [x.name, self.const(c)], op.lower()), x.shape, x.dtype, x.perm)

    def op_Rsqrt(self, n, ins):
        x = self.unary('Sqrt', ins[0], n)
        return self.unary('Reciprocal', x, n)

    def op_Square(self, n, ins):
        x = ins[0]
        return V(self.emit('Mul', [x.name, x.name], 'square'), x.shape, x.dtype, x.perm)

    def op_SquaredDifference(self, n, ins):
        d = self.binary('Sub', ins[0], ins[1], n)
        return self.op_Square(n, [d])

    def op_Softmax(self, n, ins, op='Softmax'):
        x = ins[0]
        ax = (x.perm or list(range(len(x.shape))))[-1]
        return V(self.emit(op, [x.name], op.lower(), axis=ax), x.shape, x.dtype, x.perm)

    def op_LogSoftmax(self, n, ins):
        return self.op_Softmax(n, ins, 'LogSoftmax')

    def op_Cast(self, n, ins):
        dt = np.dtype(TF_DT[attr(n, 'DstT')])
        x = ins[0]
        if isinstance(x, np.ndarray):
            return x.astype(dt)
        return V(self.emit('Cast', [x.name], 'cast', to=ONNX_DT[dt]), x.shape, dt, x.perm)

    def op_Transpose(self, n, ins):
        x, t = ins[0], [int(i) for i in ins[1]]
        if isinstance(x, np.ndarray):
            return x.transpose(t)
        p = x.perm or list(range(len(t)))
        return V(x.name, [x.shape[i] for i in t], x.dtype, [p[i] for i in t])

    def op_Reshape(self, n, ins):
        x, shape = ins[0], [int(d) for d in ins[1]]
        if isinstance(x, np.ndarray):
            return x.reshape(shape)
        out = list(np.empty(x.shape, np.bool_).reshape(shape).shape)
        return V(self.emit('Reshape', [self.phys(x), self.i64(out)], 'reshape'), out, x.dtype)

    def op_Squeeze(self, n, ins):
        x, dims = ins[0], attr(n, 'squeeze_dims', []) or attr(n, 'axis', [])
        dims = [d % len(x.shape) for d in dims] or [i for i, d in enumerate(x.shape) if d == 1]
        out = [d for i, d in enumerate(x.shape) if i not in dims]
        if isinstance(x, np.ndarray):
            return x.reshape(out)
        return V(self.emit('Squeeze', [self.phys(x), self.i64(dims)], 'squeeze'), out, x.dtype)

    def op_ExpandDims(self, n, ins):
        x, ax = ins[0], int(np.asarray(ins[1]).reshape(-1)[0])
        ax = ax % (len(x.shape) + 1)
        out = list(x.shape[:ax]) + [1] + list(x.shape[ax:])
        if isinstance(x, np.ndarray):
            return x.reshape(out)
        return V(self.emit('Unsqueeze', [self.phys(x), self.i64([ax])], 'unsqueeze'), out, x.dtype)

    def op_ConcatV2(self, n, ins):
        xs, ax = ins[:-1], int(ins[-1])
        if all(isinstance(x, np.ndarray) for x in xs):
            return np.concatenate(xs, ax)
        r = len(xs[0].shape)
        ax %= r
        vs = [x for x in xs if isinstance(x, V)]
        perm = vs[0].perm if all(v.perm == vs[0].perm for v in vs) else None
        names = [self.phys(x, inv(perm) if perm else None) if isinstance(x, np.ndarray) else
                 (x.name if perm else self.phys(x)) for x in xs]
        shape = list(xs[0].shape)
        shape[ax] = sum(x.shape[ax] for x in xs)
        return V(self.emit('Concat', names, 'concat', axis=(perm or list(range(r)))[ax]), shape, vs[0].dtype, perm)

    def op_Pack(self, n, ins):
        ax = attr(n, 'axis', 0)
        if all(isinstance(x, np.ndarray) for x in ins):
            return np.stack(ins, ax)
        ax %= len(ins[0].shape) + 1
        parts = [self.emit('Unsqueeze', [self.phys(x), self.i64([ax])], 'unsqueeze') for x in ins]
        shape = list(ins[0].shape[:ax]) + [len(ins)] + list(ins[0].shape[ax:])
        return V(self.emit('Concat', parts, 'pack', axis=ax), shape, ins[0].dtype)

    def split(self, x, sizes, ax):
        ax %= len(x.shape)
        if isinstance(x, np.ndarray):
            return np.split(x, np.cumsum(sizes)[:-1], ax)
        outs = self.emit('Split', [x.name, self.i64(sizes)], 'split', n_out=len(sizes),
                         axis=(x.perm or list(range(len(x.shape))))[ax])
        outs = outs if isinstance(outs, list) else [outs]
        return [V(o, x.shape[:ax] + (s,) + x.shape[ax + 1:], x.dtype, x.perm) for o, s in zip(outs, sizes)]

    def op_SplitV(self, n, ins):
        x, sizes, ax = ins[0], [int(s) for s in ins[1]], int(ins[2])
        if -1 in sizes:
            sizes[sizes.index(-1)] = x.shape[ax] - (sum(sizes) + 1)
        return self.split(x, sizes, ax)

    def op_Split(self, n, ins):
        ax, x, k = int(ins[0]), ins[1], attr(n, 'num_split')
        return self.split(x, [x.shape[ax] // k] * k, ax)

    def op_Pad(self, n, ins):
        x, pads = ins[0], np.asarray(ins[1]).astype(np.int64)
        mode = {'REFLECT': 'reflect', 'CONSTANT': 'constant'}[attr(n, 'mode', 'CONSTANT')]
        p = x.perm or list(range(len(x.shape)))
        ppads = np.zeros_like(pads)
        for i in range(len(p)):
            ppads[p[i]] = pads[i]
        inputs = [x.name, self.i64(np.concatenate([ppads[:, 0], ppads[:, 1]]))]
        if len(ins) > 2:
            inputs.append(self.const(np.asarray(ins[2], x.dtype)))
        shape = [d + int(a) + int(b) for d, (a, b) in zip(x.shape, pads)]
        return V(self.emit('Pad', inputs, 'pad', mode=mode), shape, x.dtype, x.perm)
    op_PadV2 = op_MirrorPad = op_Pad

    def resize(self, n, ins, mode):
        x, (oh, ow) = ins[0], [int(s) for s in ins[1]]
        if attr(n, 'align_corners', False):
            ct, nm = 'align_corners', 'round_prefer_ceil'
        elif attr(n, 'half_pixel_centers', False):
            ct, nm = 'half_pixel', 'round_prefer_ceil'
        else:
            ct, nm = 'asymmetric', 'floor'
        N, H, W, C = x.shape
        kw = {'nearest_mode': nm} if mode == 'nearest' else {}
        y = self.emit('Resize', [self.phys(x, TO_NCHW), '', '', self.i64([N, C, oh, ow])], 'resize',
                      mode=mode, coordinate_transformation_mode=ct, **kw)
        return V(y, (N, oh, ow, C), x.dtype, TO_NHWC)

    def op_ResizeBilinear(self, n, ins):
        return self.resize(n, ins, 'linear')

    def op_ResizeNearestNeighbor(self, n, ins):
        return self.resize(n, ins, 'nearest')

    def matmul(self, n, ins, ta, tb):
        a, b, args = ins[0], ins[1], list(ins[2:])
        names = []
        for x, t in ((a, ta), (b, tb)):
            if isinstance(x, np.ndarray):
                names.append(self.const(np.swapaxes(x, -1, -2) if t else x))
            else:
                r = len(x.shape)
                names.append(self.phys(x, list(range(r - 2)) + [r - 1, r - 2] if t else None))
        sa = list(a.shape[:-2]) + ([a.shape[-1], a.shape[-2]] if ta else list(a.shape[-2:]))
        sb = list(b.shape[-2:])[::-1] if tb else list(b.shape[-2:])
        y = self.emit('MatMul', names, 'matmul')
        for kind in attr(n, 'fused_ops', []):
            if kind == 'BiasAdd':
                y = self.emit('Add', [y, self.const(args.pop(0).astype(np.float32))], 'bias')
            else:
                y = self.activation(y, kind, n, args, (-1,))
        return V(y, sa[:-1] + [sb[-1]], np.float32)

    def op_MatMul(self, n, ins):
        return self.matmul(n, ins, attr(n, 'transpose_a', False), attr(n, 'transpose_b', False))
    op__FusedMatMul = op_MatMul

    def op_BatchMatMulV2(self, n, ins):
        return self.matmul(n, ins, attr(n, 'adj_x', False), attr(n, 'adj_y', False))
    op_BatchMatMul = op_BatchMatMulV2

    def op_FusedBatchNorm(self, n, ins):
        x, scale, offset, mean, var = ins[:5]
        s = scale / np.sqrt(var + attr(n, 'epsilon', 1e-3))
        shape = (-1, 1, 1) if attr(n, 'data_format', 'NHWC') == 'NCHW' else (-1,)
        y = self.binary('Mul', x, s.astype(np.float32).reshape(shape), n)
        return self.binary('Add', y, (offset - mean * s).astype(np.float32).reshape(shape), n)
    op_FusedBatchNormV3 = op_FusedBatchNormV2 = op_FusedBatchNorm

    def op_Shape(self, n, ins):
        return np.array(ins[0].shape, TF_DT[attr(n, 'out_type', 'DT_INT32')])

    def op_SparseToDense(self, n, ins):
        idx, shape, values, default = [np.asarray(a) for a in ins]
        out = np.full([int(s) for s in shape], default, values.dtype)
        if idx.size:
            out[tuple(np.atleast_2d(idx.reshape(idx.shape[0], -1)).T)] = values
        return out

    def op_StridedSlice(self, n, ins):
        x, begin, end, strides = ins[0], *[[int(v) for v in a] for a in ins[1:4]]
        if attr(n, 'ellipsis_mask', 0) or attr(n, 'new_axis_mask', 0):
            raise NotImplementedError('StridedSlice with ellipsis/new_axis mask')
        bm, em, sm = attr(n, 'begin_mask', 0), attr(n, 'end_mask', 0), attr(n, 'shrink_axis_mask', 0)
        sl = []
        for i in range(len(begin)):
            if sm >> i & 1:
                b = begin[i] % x.shape[i]
                sl.append(slice(b, b + 1, 1))
            else:
                sl.append(slice(None if bm >> i & 1 else begin[i], None if em >> i & 1 else end[i], strides[i]))
        shrink = [i for i in range(len(begin)) if sm >> i & 1]
        if isinstance(x, np.ndarray):
            return x[tuple(sl)].squeeze(tuple(shrink))
        starts, ends, steps, axes, shape = [], [], [], [], list(x.shape)
        for i, s in enumerate(sl):
            r = range(x.shape[i])[s]
            shape[i] = len(r)
            if len(r) != x.shape[i] or r.step != 1:
                starts.append(r.start)
                ends.append(r.stop if r.stop >= 0 else -x.shape[i] - 1)
                steps.append(r.step)
                axes.append(i)
        y = self.phys(x)
        if axes:
            y = self.emit('Slice', [y, self.i64(starts), self.i64(ends), self.i64(axes), self.i64(steps)], 'slice')
        if shrink:
            y = self.emit('Squeeze', [y, self.i64(shrink)], 'squeeze')
        return V(y, [d for i, d in enumerate(shape) if i not in shrink], x.dtype)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('model_json')
    ap.add_argument('out_onnx', nargs='?')
    ap.add_argument('--input-shape', action='append', default=[], help='NAME=d0,d1,... (repeatable)')
    ap.add_argument('--list-ops', action='store_true', help='print the op types used by the model and exit')
    a = ap.parse_args()
    if a.list_ops:
        from collections import Counter
        j = json.load(open(a.model_json))
        for op, c in sorted(Counter(n['op'] for n in j['modelTopology']['node']).items()):
            print('%-30s %d %s' % (op, c, '' if op in ('Const', 'Placeholder') or op in UNARY or op in BINARY
                                   or op in REDUCE or hasattr(Converter, 'op_' + op) else 'UNSUPPORTED'))
        return
    if not a.out_onnx:
        ap.error('OUT.onnx is required')
    shapes = {k: [int(d) for d in v.split(',')] for k, v in (s.split('=', 1) for s in a.input_shape)}
    model = Converter(a.model_json, shapes).convert()
    onnx.save(model, a.out_onnx)
    g = model.graph
    print('wrote %s: %d nodes, %d initializers' % (a.out_onnx, len(g.node), len(g.initializer)))
    for kind, vis in (('input', g.input), ('output', g.output)):
        for v in vis:
            print('  %s %s %s' % (kind, v.name, [d.dim_value for d in v.type.tensor_type.shape.dim]))


if __name__ == '__main__':
    main()
