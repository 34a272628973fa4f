// Code points where ember's pre-tokenizer and tiktoken@1.0.22 disagree, as
// found by `differential.js sweep` (every code point, 2026-11-28): all 5004 are
// letters or numbers assigned in Unicode 15.1 (CJK Ext. I, U+2EBF0..) and
// 16.0 (Garay, Gurung Khema, Kirat Rai, Ol Onal, Sunuwar, Todhri,
// Tulu-Tigalari, Egyptian Hieroglyphs Ext. A, new Latin/Cyrillic letters,
// outlined digits ...). tiktoken's Rust regex tables know them as \p{L} /
// \p{N}; Debian 12's utf8proc 2.8 has Unicode 15.0, where they are
// unassigned (Cn), so ember treats them as [^\s\p{L}\p{N}]. Inclusive ranges.
'use strict';
const divergentRanges = [
  [0x1C89, 0x1C8A],
  [0xA7CB, 0xA7CD],
  [0xA7DA, 0xA7DC],
  [0x105C0, 0x105F3],
  [0x10D40, 0x10D65],
  [0x10D6F, 0x10D85],
  [0x10EC2, 0x10EC4],
  [0x11380, 0x11389],
  [0x1138B, 0x1138B],
  [0x1138E, 0x1138E],
  [0x11390, 0x113B5],
  [0x113B7, 0x113B7],
  [0x113D1, 0x113D1],
  [0x113D3, 0x113D3],
  [0x116D0, 0x116E3],
  [0x11BC0, 0x11BE0],
  [0x11BF0, 0x11BF9],
  [0x13460, 0x143FA],
  [0x16100, 0x1611D],
  [0x16130, 0x16139],
  [0x16D40, 0x16D6C],
  [0x16D70, 0x16D79],
  [0x18CFF, 0x18CFF],
  [0x1CCF0, 0x1CCF9],
  [0x1E5D0, 0x1E5ED],
  [0x1E5F0, 0x1E5FA],
  [0x2EBF0, 0x2EE5D],
];
function isDivergent(cp) {
  return divergentRanges.some(([a, b]) => cp >= a && cp <= b);
}
module.exports = { divergentRanges, isDivergent };
