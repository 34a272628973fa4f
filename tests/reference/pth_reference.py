"""PyTorch's side of tests/checkpoint/pth_test.cpp (ember's .pth reader and
writer, include/ember/checkpoint/pth.hpp). Run with /usr/bin/python3 (torch):

  pth_reference.py write DIR        torch.save's files for read_pth: good.pth
                                    (expected(), with views of one storage)
                                    and the bad ones (see write())
  pth_reference.py check FILE...    torch.load each FILE, plain and with
                                    weights_only=True: an OrderedDict equal,
                                    bit for bit and in order, to expected()
  pth_reference.py book FILE JSON   the book's GPTModel (gpt_book.build_model
                                    of the [model] table JSON, seed 123)
                                    load_state_dict(torch.load(FILE),
                                    strict=True); its tensors equal a fresh
                                    seeded model's, keys in state_dict order
  pth_reference.py seed DIR         fuzz/pth_fuzz.cpp's seed corpus: a small
                                    torch.save file, with the mode byte 0
                                    (CRC checked) and 1 (not)

Prints "ok" and exits 0, or says what differs and exits 1."""
import collections
import io
import json
import os
import sys
import zipfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def expected():
    """The state dict both sides build (pth_test.cpp's expected()): exact
    values in each dtype; w_t and w_slice are views of w's storage."""
    w = torch.arange(12, dtype=torch.float32).reshape(3, 4) / 8 - 0.5
    sd = collections.OrderedDict()
    sd["w"] = w
    sd["w_t"] = w.t()
    sd["w_slice"] = w[1:, 2:]
    sd["h"] = torch.arange(6).to(torch.float16) * 0.25 - 0.5
    sd["bf"] = torch.arange(6).to(torch.bfloat16) * 0.25 - 0.5
    sd["l"] = torch.tensor([-(2**40), -1, 0, 255, 65536, 2**62], dtype=torch.int64)
    sd["b"] = torch.tensor([True, False, True])
    sd["s"] = torch.tensor(2.5)
    sd["p"] = torch.nn.Parameter(torch.ones(2))
    sd["d5"] = torch.arange(32, dtype=torch.float64).reshape(2, 2, 2, 2, 2)
    sd["e"] = torch.empty(0, 3)
    sd["i32"] = torch.tensor([1, -2], dtype=torch.int32)
    sd["u8"] = torch.tensor([0, 255], dtype=torch.uint8)
    return sd


def bits(t):
    return t.detach().reshape(-1).contiguous().view(torch.uint8)


def same(a, b):
    return (type(a) is type(b) or isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)) \
        and a.dtype == b.dtype and a.shape == b.shape and torch.equal(bits(a), bits(b))


def rezip(src, dst, edit):
    """Copies the zip `src` to `dst` (stored records, fresh CRCs), passing
    each record through edit(name, data) -> data."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, edit(info.filename, zin.read(info.filename)))


class System:
    """An object whose unpickling runs os.system, as a malicious file would."""

    def __reduce__(self):
        return (os.system, ("echo pwned",))


def write(out_dir):
    torch.save(expected(), f"{out_dir}/good.pth")
    # A module-level global the allow-list refuses, and a whole module.
    torch.save({"w": torch.ones(2), "x": System()}, f"{out_dir}/os_system.pth")
    import gpt_book
    torch.manual_seed(0)
    model = gpt_book.build_model(dict(vocab_size=8, context_length=4, emb_dim=4, n_layers=1,
                                      n_heads=1, drop_rate=0.0, qkv_bias=False))
    torch.save(model, f"{out_dir}/whole_module.pth")
    # A storage record cut to 10 of its 48 bytes.
    two = collections.OrderedDict(a=torch.zeros(3, 4), b=torch.ones(2))
    torch.save(two, f"{out_dir}/two.pth")
    rezip(f"{out_dir}/two.pth", f"{out_dir}/short_storage.pth",
          lambda n, d: d[:10] if n.endswith("/data/0") else d)
    # Key 'b' renamed to 'a' inside data.pkl: a duplicate key.
    rezip(f"{out_dir}/two.pth", f"{out_dir}/duplicate_key.pth",
          lambda n, d: d.replace(b"X\x01\x00\x00\x00b", b"X\x01\x00\x00\x00a")
          if n.endswith("data.pkl") else d)
    # The book's chapter 5 training checkpoint: a dict of dicts.
    torch.save({"model_state_dict": two}, f"{out_dir}/nested.pth")


def check(paths):
    want = expected()
    for path in paths:
        for weights_only in (False, True):
            got = torch.load(path, weights_only=weights_only)
            if type(got) is not collections.OrderedDict or list(got) != list(want):
                sys.exit(f"{path}: keys {list(got)} (expected {list(want)})")
            for k in want:
                if not same(got[k].detach(), want[k].detach()):
                    sys.exit(f"{path}: '{k}' differs: {got[k]} (expected {want[k]})")
    print("ok")


def book(path, model_json):
    import gpt_book
    m = json.loads(model_json)
    torch.manual_seed(123)
    model = gpt_book.build_model(m)
    loaded = torch.load(path, weights_only=True)
    model.load_state_dict(loaded, strict=True)
    torch.manual_seed(123)
    fresh = gpt_book.build_model(m).state_dict()
    if list(loaded) != list(fresh):
        sys.exit(f"keys in file order {list(loaded)}\n(expected state_dict order {list(fresh)})")
    for k, v in fresh.items():
        if not same(loaded[k], v):
            sys.exit(f"'{k}' differs from the seeded book model's")
    print("ok")


def seed(out_dir):
    w = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    sd = collections.OrderedDict(w=w, w_t=w.t(), h=torch.ones(2, dtype=torch.float16),
                                 b=torch.tensor([True, False]))
    buf = io.BytesIO()
    torch.save(sd, buf)
    for mode in (0, 1):
        with open(f"{out_dir}/torch_save_{mode}", "wb") as f:
            f.write(bytes([mode]) + buf.getvalue())


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "write" and len(sys.argv) == 3:
        write(sys.argv[2])
    elif cmd == "check" and len(sys.argv) >= 3:
        check(sys.argv[2:])
    elif cmd == "seed" and len(sys.argv) == 3:
        seed(sys.argv[2])
    elif cmd == "book" and len(sys.argv) == 4:
        book(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
