// list_zip_records and check_torch_archive on hand-made archives: the zip
// structure (zip64 included), pickle lengths, and storages against records.
#include <cstdint>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <ember/checkpoint/torch_archive.hpp>
#include <ember/util/error.hpp>

namespace {

void put(std::string& s, uint64_t v, int bytes) {
  for (int k = 0; k < bytes; ++k) s += static_cast<char>((v >> (8 * k)) & 0xFF);
}

struct Entry {
  std::string name;
  std::string data;
};

// A stored zip of `entries`. zip64 = true writes every size and offset of
// the central directory as 0xFFFFFFFF with the real values in a zip64 extra
// field, and a zip64 end record with its locator.
std::string make_zip(const std::vector<Entry>& entries, bool zip64 = false) {
  std::string out;
  std::vector<uint64_t> offsets;
  for (const auto& e : entries) {
    offsets.push_back(out.size());
    put(out, 0x04034b50, 4);
    put(out, 20, 2);  // version
    put(out, 0, 2);   // flags
    put(out, 0, 2);   // stored
    put(out, 0, 4);   // time, date
    put(out, 0, 4);   // crc (not checked here)
    put(out, e.data.size(), 4);
    put(out, e.data.size(), 4);
    put(out, e.name.size(), 2);
    put(out, 3, 2);  // extra: 3 bytes of padding, as LibTorch aligns data
    out += e.name + "xyz" + e.data;
  }
  const uint64_t dir = out.size();
  for (size_t k = 0; k < entries.size(); ++k) {
    const auto& e = entries[k];
    put(out, 0x02014b50, 4);
    put(out, 20, 2);
    put(out, 20, 2);
    put(out, 0, 2);
    put(out, 0, 2);
    put(out, 0, 4);
    put(out, 0, 4);
    put(out, zip64 ? 0xFFFFFFFF : e.data.size(), 4);
    put(out, zip64 ? 0xFFFFFFFF : e.data.size(), 4);
    put(out, e.name.size(), 2);
    put(out, zip64 ? 28 : 0, 2);
    put(out, 0, 2);  // comment
    put(out, 0, 2);  // disk
    put(out, 0, 2);  // internal attributes
    put(out, 0, 4);  // external attributes
    put(out, zip64 ? 0xFFFFFFFF : offsets[k], 4);
    out += e.name;
    if (zip64) {
      put(out, 0x0001, 2);
      put(out, 24, 2);
      put(out, e.data.size(), 8);  // uncompressed
      put(out, e.data.size(), 8);  // compressed
      put(out, offsets[k], 8);
    }
  }
  const uint64_t dir_size = out.size() - dir;
  if (zip64) {
    const uint64_t end64 = out.size();
    put(out, 0x06064b50, 4);
    put(out, 44, 8);
    put(out, 45, 2);
    put(out, 45, 2);
    put(out, 0, 4);
    put(out, 0, 4);
    put(out, entries.size(), 8);
    put(out, entries.size(), 8);
    put(out, dir_size, 8);
    put(out, dir, 8);
    put(out, 0x07064b50, 4);
    put(out, 0, 4);
    put(out, end64, 8);
    put(out, 1, 4);
  }
  put(out, 0x06054b50, 4);
  put(out, 0, 4);
  put(out, zip64 ? 0xFFFF : entries.size(), 2);
  put(out, zip64 ? 0xFFFF : entries.size(), 2);
  put(out, zip64 ? 0xFFFFFFFF : dir_size, 4);
  put(out, zip64 ? 0xFFFFFFFF : dir, 4);
  put(out, 0, 2);
  return out;
}

// The pickle LibTorch writes for one tensor of `numel` float32 elements in
// storage '0' (protocol 2, as torch.jit's Pickler), with `claim` as the
// storage's element count.
std::string tensor_pickle(int numel, int claim) {
  std::string p = "\x80\x02";
  p += "ctorch._utils\n_rebuild_tensor_v2\n";
  p += 'q';
  p += '\0';
  p += "((X";
  put(p, 7, 4);
  p += "storage";
  p += "ctorch\nFloatStorage\n";
  p += 'X';
  put(p, 1, 4);
  p += "0X";
  put(p, 3, 4);
  p += "cpuJ";
  put(p, static_cast<uint32_t>(claim), 4);
  p += "tQK";
  p += '\0';
  p += "(J";
  put(p, static_cast<uint32_t>(numel), 4);
  p += "t(K\x01t\x89tR.";
  return p;
}

}  // namespace

TEST_CASE(
    "list_zip_records: names, offsets and sizes, zip64 too", "[archive]") {
  const std::vector<Entry> entries = {{"a/one", "hello"}, {"a/two", ""}};
  for (bool zip64 : {false, true}) {
    const std::string zip = make_zip(entries, zip64);
    const auto records = ember::list_zip_records(zip);
    REQUIRE(records.size() == 2);
    const auto& one = records.at("a/one");
    CHECK(one.size == 5);
    CHECK(one.stored_size == 5);
    CHECK_FALSE(one.deflated);
    CHECK(zip.substr(one.data_offset, one.size) == "hello");
    CHECK(records.at("a/two").size == 0);
  }
}

TEST_CASE("list_zip_records: damaged structure is refused", "[archive]") {
  const std::string zip = make_zip({{"a/one", "hello"}});
  CHECK_THROWS_WITH(
      ember::list_zip_records("short"), "archive: too short for a zip archive");
  CHECK_THROWS_WITH(
      ember::list_zip_records(std::string(100, 'x')),
      "archive: no end of central directory record");
  // The record claims more bytes than the file holds.
  std::string big = zip;
  const size_t dir = big.find("PK\x01\x02");
  REQUIRE(dir != std::string::npos);
  big[dir + 20] = big[dir + 24] = '\x7f';
  CHECK_THROWS_WITH(
      ember::list_zip_records(big),
      "archive: record 'a/one': 127 bytes at 38 run past the records");
  // Stored, but with two different sizes.
  std::string sizes = zip;
  sizes[dir + 24] = '\x06';
  CHECK_THROWS_WITH(
      ember::list_zip_records(sizes),
      "archive: record 'a/one': stored, yet 5 bytes become 6");
  // Deflated 5 bytes cannot become 4 GiB.
  std::string bomb = zip;
  bomb[dir + 10] = '\x08';
  for (int k = 0; k < 4; ++k) bomb[dir + 24 + k] = '\xff';
  CHECK_THROWS_WITH(
      ember::list_zip_records(bomb),
      "archive: record 'a/one': 5 deflated bytes cannot inflate to 4294967295");
}

TEST_CASE(
    "check_torch_archive: pickle lengths and storage sizes", "[archive]") {
  // A float32 tensor of 4 elements in a 16-byte record: fine.
  const std::string ok = tensor_pickle(4, 4);
  CHECK_NOTHROW(ember::check_torch_archive(make_zip(
      {{"archive/data.pkl", ok}, {"archive/data/0", std::string(16, '\0')}})));
  // The storage claims 5 elements: 20 bytes over a 16-byte record.
  CHECK_THROWS_WITH(
      ember::check_torch_archive(make_zip(
          {{"archive/data.pkl", tensor_pickle(4, 5)},
           {"archive/data/0", std::string(16, '\0')}})),
      Catch::Contains("archive record 'archive/data.pkl': byte ") &&
          Catch::Contains(
              "storage 'archive/data/0' claims 5 elements of 4 bytes, its "
              "record holds 16 bytes"));
  CHECK_THROWS_WITH(
      ember::check_torch_archive(make_zip({{"archive/data.pkl", ok}})),
      Catch::Contains("storage record 'archive/data/0' is missing"));
  // A string that claims 4 GiB in a 20-byte pickle.
  std::string huge =
      "\x80\x02X\xff\xff\xff\xff"
      "abc.";
  CHECK_THROWS_WITH(
      ember::check_torch_archive(make_zip({{"archive/data.pkl", huge}})),
      "archive record 'archive/data.pkl': byte 2: BINUNICODE claims "
      "4294967295 bytes, 4 remain in the record");
  CHECK_THROWS_WITH(
      ember::check_torch_archive(make_zip({{"archive/data.pkl", "\x80\x02N"}})),
      "archive record 'archive/data.pkl': byte 3: ends without STOP");
  CHECK_THROWS_WITH(
      ember::check_torch_archive(
          make_zip({{"archive/data.pkl", "\x80\x02\xff."}})),
      "archive record 'archive/data.pkl': byte 2: unknown pickle opcode 0xff");
  CHECK_THROWS_WITH(
      ember::check_torch_archive(
          make_zip({{"archive/data.pkl", "\x80\x02h\x05."}})),
      "archive record 'archive/data.pkl': byte 2: memo 5 was never put");
  // LibTorch grows its memo to the key: 2^28 keys of 16 bytes.
  CHECK_THROWS_WITH(
      ember::check_torch_archive(make_zip(
          {{"archive/data.pkl", std::string("\x80\x02Nr\0\0\0\x10.", 9)}})),
      "archive record 'archive/data.pkl': byte 3: memo key 268435456 skips "
      "ahead (expected at most 0)");
  CHECK_THROWS_WITH(
      ember::check_torch_archive(make_zip({{"archive/data.pkl", "0."}})),
      "archive record 'archive/data.pkl': byte 0: pops an empty stack");
  // Tuples nested 2000 deep: refused before they can exhaust the stack.
  std::string deep = std::string(2000, '(') + std::string(2000, 't') + ".";
  CHECK_THROWS_WITH(
      ember::check_torch_archive(make_zip({{"archive/data.pkl", deep}})),
      Catch::Contains("tuples nested deeper than 1000"));
}

TEST_CASE("check_torch_archive: what a pickle makes is capped", "[archive]") {
  // 2.2 million Nones, one byte each: each a stack slot (issue 22). The
  // check stops at kMaxPickleObjects, not at the end of memory.
  const std::string nones = "\x80\x02" + std::string(2'200'000, 'N') + ".";
  CHECK_THROWS_WITH(
      ember::check_torch_archive(make_zip({{"archive/data.pkl", nones}})),
      "archive record 'archive/data.pkl': byte 2097154: the pickle makes more "
      "than 2097152 objects (a state dict's makes about 60 per tensor)");
}

TEST_CASE(
    "check_torch_archive: TorchScript source is only a module's attributes",
    "[archive]") {
  const std::string source =
      "class Module(Module):\n"
      "  __parameters__ = [\"format\", \"model.w\", ]\n"
      "  __buffers__ = []\n"
      "  format : Tensor\n"
      "  __annotations__[\"model.w\"] = Tensor\n";
  CHECK_NOTHROW(ember::check_torch_archive(
      make_zip({{"archive/code/__torch__.py", source}})));
  // Code LibTorch would compile: refused by line.
  CHECK_THROWS_WITH(
      ember::check_torch_archive(make_zip(
          {{"archive/code/__torch__.py", source + "  def forward(self):\n"}})),
      "archive record 'archive/code/__torch__.py': line 6 is not an attribute "
      "declaration of a saved tensor archive");
  CHECK_THROWS_WITH(
      ember::check_torch_archive(make_zip(
          {{"archive/code/__torch__.py",
            "class Module(Module):\n  x : Tensor[\n"}})),
      Catch::Contains("line 2 is not an attribute declaration"));
  CHECK_THROWS_WITH(
      ember::check_torch_archive(make_zip(
          {{"archive/code/__torch__.py",
            "class Module(Module):\n  __parameters__ = [\"a\" ]\n"}})),
      Catch::Contains("line 2 is not an attribute declaration"));
  CHECK_THROWS_WITH(
      ember::check_torch_archive(
          make_zip({{"archive/code/__torch__/other.py", "class X:\n"}})),
      "archive record 'archive/code/__torch__/other.py': TorchScript code "
      "other than the module of a saved tensor archive");
}
