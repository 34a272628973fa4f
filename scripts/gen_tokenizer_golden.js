#!/usr/bin/env node
// Writes tests/golden/tokenizer_cases.jsonl: hard tokenizer cases with the
// ids of the oracle, tiktoken@1.0.22 (gpt2). Each line after the header is
// {"text", "ids" (every special allowed), "as_text_ids" (specials encoded as
// ordinary text: disallowed_special=())}. Run: node scripts/gen_tokenizer_golden.js
'use strict';
const fs = require('fs');
const path = require('path');
const { get_encoding } = require('tiktoken');

const cases = [
  'hello world',
  'Hello, world. Is this-- a test?',
  'Hello, do you like tea? <|endoftext|> In the sunlit terracesof someunknownPlace.',
  '',
  ' ',
  'a',
  // Whitespace: \s+(?!\S) backtracking, every kind of Unicode space.
  'a  b', 'a   b', 'a    b', 'a\n\nb', 'a \n b', 'a\n b', '  ', 'a  ', 'a \n', '\t\ta', 'a\t b',
  'a\u00a0b', 'a\u00a0\u00a0b', 'a \u3000b', 'x\u2028y', 'x\u2029\u2029y', '\r\n\r\n', ' \u0085x',
  'a\u1680b', 'a\u2000\u2001\u2002 b', 'a\u202f\u205f b', 'a\u000b\u000cb', 'a\u200bb', 'a\u180eb', 'a\ufeffb',
  'a\u001c\u001fb', '    def f(x):\n        return x\n', '\n\n\n', ' \n \n ',
  // Contractions: ASCII apostrophe + lowercase only; punctuation runs swallow.
  "don't", "I'M", "it's", "'s'S'", "we'll've", "!'s", " 's", "''s", '’s', "You'RE", "o'clock", "'d'll're've'm't",
  // Numbers of every kind.
  '1', '12', '123', '1234', '12345', '123456789012', '3.14159', '1,000,000', '٣٤٥', '½²³', 'Ⅻ ⅷ', '①②', '０１２',
  'abc123def', ' 42 ', '2024-11-28T01:02:03Z',
  // Scripts.
  'Привет, мир!', 'Καλημέρα κόσμε', '你好，世界。', 'こんにちは世界', '안녕하세요 세계', 'مرحبا بالعالم',
  'नमस्ते दुनिया', 'สวัสดีชาวโลก', 'שלום עולם', 'Zürich naïve café', 'ǅemal ʰello',
  // Combining marks.
  'e\u0301', 'a\u0300\u0301b', 'n\u0303o', ' \u0301', '\u0301\u0301x',
  // Emoji and astral-plane characters.
  '😀', '👨‍👩‍👧‍👦', '🇫🇷🇯🇵', '👍🏽 ok', '❤️', '1️⃣', 'I 🫠 it', '𝐀𝐁𝐂', '𠮷野家', '𓀀𓀁', '\u{10fffd}',
  // Letters and numbers new in Unicode 15.1/16.0 (unassigned in utf8proc 2.8,
  // from the build-time table): CJK Ext. I, Garay letters and digits, Sunuwar,
  // Kirat Rai, Egyptian Hieroglyphs Ext. A, outlined digits, Cyrillic Tje.
  "\u{2EBF0}\u{2EBF1}'s \u{2EE5D}", ' \u{10D4A}\u{10D4B}\u{10D41}\u{10D42}\u{10D69}x',
  "\u{11BC0}\u{11BC1}'ll \u{11BF0}\u{11BF9}", " \u{16D43}\u{16D44}\u{16D70}'s", "\u{13460}\u{13461}\u{143FA}'t!",
  "1\u{1CCF0}\u{1CCF9}'d", "\u1C89\u1C8A\u{A7CB}\u{A7DA}'re", "\u{2EE5E}'s",
  // Special tokens.
  '<|endoftext|>', 'a<|endoftext|>b', 'a  <|endoftext|>  b', '<|endoftext|><|endoftext|>', '<|endoftext',
  'x<|endoftext|>\n\n', ' <|endoftext|> ',
  // Controls.
  '\u0000\u0001x', '\u007f', '\u0080\u009f',
  // Long pieces (the heap BPE path).
  'a'.repeat(300), ' '.repeat(200), '\n'.repeat(50), '!'.repeat(130), 'ab'.repeat(100) + 'c', 'é'.repeat(150),
  ' ' + 'x'.repeat(129), '😀'.repeat(40),
];

const enc = get_encoding('gpt2');
const lines = [JSON.stringify({
  generated_by: 'scripts/gen_tokenizer_golden.js (tiktoken 1.0.22, gpt2); do not edit',
})];
for (const text of cases) {
  lines.push(JSON.stringify({
    text,
    ids: Array.from(enc.encode(text, 'all')),
    as_text_ids: Array.from(enc.encode(text, [], [])),
  }));
}
enc.free();
const out = path.join(__dirname, '..', 'tests', 'golden', 'tokenizer_cases.jsonl');
fs.writeFileSync(out, lines.join('\n') + '\n');
console.log(`wrote ${out} (${cases.length} cases)`);
