#!/usr/bin/env node
// Differential test of `ember tokenize` against the oracle, tiktoken@1.0.22
// (tiktoken's Rust core as WASM), encoding gpt2 with every special allowed.
//
//   node differential.js corpora EMBER FILE...   whole outputs of each file
//   node differential.js strings EMBER [N SEED]  N generated strings (default
//                                                10000, seed 20261128)
//   node differential.js sweep EMBER             every code point in probes
//
// Strings are batched through one `ember tokenize` run: they are joined with
// <|endoftext|>, which tiktoken (and ember) treat as a hard segment boundary
// (lib.rs _encode_native pre-tokenizes text[start..special] on its own), so
// ember's ids split at those separators are each string's ids. A mismatch
// prints the string (escaped) and both id lists. Exit status 1 on mismatch.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');
const { get_encoding } = require('tiktoken');

const EOT = '<|endoftext|>';
const EOT_ID = 50256;
const enc = get_encoding('gpt2');
const tiktoken = (text) => Array.from(enc.encode(text, 'all'));

function escape(s) {
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0);
    if (ch === '\\') out += '\\\\';
    else if (ch === '"') out += '\\"';
    else if (cp >= 0x20 && cp < 0x7f) out += ch;
    else out += `\\u{${cp.toString(16)}}`;
  }
  return `"${out}"`;
}

function runEmber(ember, file, threads) {
  const out = execFileSync(
    ember,
    ['tokenize', '--allowed-special', 'all', '--threads', String(threads), '--input', file],
    { maxBuffer: 1 << 30 },
  ).toString();
  if (!out.endsWith('\n') || out.slice(0, -1).includes('\n')) {
    throw new Error('ember tokenize: output is not one line ending in a newline');
  }
  const body = out.slice(0, -1);
  return body === '' ? [] : body.split(' ').map(Number);
}

function firstDiff(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

// Compares ember's ids of a batch (strings joined by EOT) string by string.
function compareBatch(label, strings, ours) {
  let k = 0;
  let bad = 0;
  for (let i = 0; i < strings.length; i++) {
    const ref = tiktoken(strings[i]);
    const inner = ref.filter((x) => x === EOT_ID).length;
    let j = k;
    let seen = 0;
    for (; j < ours.length; j++) {
      if (ours[j] === EOT_ID) {
        if (seen === inner) break;
        seen++;
      }
    }
    const mine = ours.slice(k, j);
    k = j + 1;
    if (firstDiff(mine, ref) !== -1) {
      bad++;
      if (bad <= 20) {
        console.log(`MISMATCH ${label} #${i}: ${escape(strings[i])}`);
        console.log(`  tiktoken: ${ref.join(' ')}`);
        console.log(`  ember:    ${mine.join(' ')}`);
      }
    }
  }
  if (k !== ours.length + 1 && strings.length > 0) {
    console.log(`MISMATCH ${label}: ember emitted ${ours.length} ids, ${ours.length - k + 1} left over`);
    bad++;
  }
  return { bad };
}

function tmpFile(name, data) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ember-diff-'));
  const file = path.join(dir, name);
  fs.writeFileSync(file, data);
  return { file, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

// ---- corpora ---------------------------------------------------------------
function corpora(ember, files) {
  let failures = 0;
  for (const file of files) {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(fs.readFileSync(file));
    const ref = tiktoken(text);
    for (const threads of [1, 2]) {
      const ours = runEmber(ember, file, threads);
      const d = firstDiff(ours, ref);
      if (d === -1) {
        console.log(`ok ${path.basename(file)} (${ref.length} ids, --threads ${threads})`);
        continue;
      }
      failures++;
      console.log(`MISMATCH ${file} --threads ${threads}: first difference at id index ${d} ` +
        `(tiktoken ${ref.length} ids, ember ${ours.length})`);
      const lo = Math.max(0, d - 5);
      console.log(`  tiktoken: ${ref.slice(lo, d + 6).join(' ')}`);
      console.log(`  ember:    ${ours.slice(lo, d + 6).join(' ')}`);
      console.log(`  text: ${escape(enc.decode(new Uint32Array(ref.slice(lo, d + 6))).toString())}`);
    }
  }
  return failures;
}

// ---- generated strings -----------------------------------------------------
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const range = (a, b) => Array.from({ length: b - a + 1 }, (_, i) => String.fromCodePoint(a + i));
const POOLS = {
  latin: [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', ...'éèêëñßøåæçüöäÉÑœŒłŁđǅǈʰˆ'],
  cyrillic: range(0x0410, 0x044f).concat(['ё', 'Ё', 'ї', 'ґ']),
  greek: range(0x0391, 0x03a9).concat(range(0x03b1, 0x03c9), ['ά', 'ώ', 'ΐ']),
  cjk: range(0x4e00, 0x4e80).concat(range(0x3041, 0x3096), range(0x30a1, 0x30fa), range(0xac00, 0xac40), ['ー', '々', '〆']),
  arabic: range(0x0621, 0x064a).concat(['\u064b', '\u064e', '\u0651', 'ـ', '٠', '٣', '٩', '؟', '،']),
  hebrew: range(0x05d0, 0x05ea).concat(['\u05b7', '\u05bc']),
  devanagari: range(0x0905, 0x0939).concat(['\u093e', '\u093f', '\u0940', '\u0947', '\u094d', '\u0902', '\u0903', '०', '७', '।']),
  thai: range(0x0e01, 0x0e2e).concat(['\u0e31', '\u0e34', '\u0e48', '๑']),
  combining: range(0x0300, 0x036f).concat(['\u20dd', '\u1ab0', '\u1dc0', '\ufe20']),
  digits: [...'0123456789', '٠', '١', '۵', '०', '৩', '๓', '０', '９', '²', '³', '¹', '½', '¾', '①', '⑳', 'Ⅻ', 'ⅷ', '〇', '𝟘', '𝟙', '𐍁', '𒐀'],
  punct: [...'!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~', ...'“”‘’«»—–…•·¿¡§¶†‡※€£¥©®™°±×÷', '\u00ad', '\u200b', '\u200c', '\u200d', '\ufeff', '\u180e', '\u2060'],
  controls: ['\u0000', '\u0001', '\u0007', '\u001b', '\u001c', '\u001d', '\u001e', '\u001f', '\u007f', '\u0080', '\u009f'],
  whitespace: [' ', ' ', ' ', '\t', '\n', '\n', '\r', '\u000b', '\u000c', '\u0085', '\u00a0', '\u1680',
    ...range(0x2000, 0x200a), '\u2028', '\u2029', '\u202f', '\u205f', '\u3000'],
  emoji: ['😀', '😂', '🤖', '👍', '👍🏽', '👩‍💻', '👨‍👩‍👧‍👦', '🏳️‍🌈', '🇫🇷', '🇯🇵', '❤️', '❤', '1️⃣', '#️⃣', '✌🏿', '🧑🏻‍🤝‍🧑🏿', '☺︎', '🫠', '🦀'],
  astral: ['𝐀', '𝐳', '𝔸', '𐍈', '𐌰', '𠀀', '𠮷', '𪚥', '𓀀', '𞤀', '𖼀', '𑀅', '\u{e0041}', '\u{f0000}', '\u{10fffd}'],
};
const CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'Ve", "'M", "'LL", "'D",
  '’s', '’t', "''s", "'''", " 's", " 't", "n't", "'x", "'", "'st", "'dd", "'lll"];
const WORDS = ['the', 'The', 'hello', 'world', 'don', 'I', 'GPT', 'tokenizer', 'Привет', 'мир', 'Καλημέρα',
  '你好', '世界', 'こんにちは', 'مرحبا', 'नमस्ते', 'שלום', 'สวัสดี', '안녕하세요', 'naïve', 'café', 'e\u0301', 'Zürich'];

function genString(rnd) {
  const pick = (arr) => arr[Math.floor(rnd() * arr.length)];
  const parts = [];
  const n = 1 + Math.floor(rnd() * 12);
  const names = Object.keys(POOLS);
  for (let i = 0; i < n; i++) {
    const r = rnd();
    if (r < 0.2) {
      // A run from one pool.
      const pool = POOLS[pick(names)];
      const len = 1 + Math.floor(rnd() * 6);
      let s = '';
      for (let j = 0; j < len; j++) s += pick(pool);
      parts.push(s);
    } else if (r < 0.35) {
      // Whitespace runs of mixed kinds.
      const len = 1 + Math.floor(rnd() * 5);
      let s = '';
      for (let j = 0; j < len; j++) s += rnd() < 0.5 ? ' ' : pick(POOLS.whitespace);
      parts.push(s);
    } else if (r < 0.45) {
      parts.push(pick(WORDS));
    } else if (r < 0.53) {
      parts.push(pick(CONTRACTIONS));
    } else if (r < 0.6) {
      // Digit ladders and numbers with separators.
      const len = 1 + Math.floor(rnd() * 14);
      parts.push('1234567890987654321'.slice(0, len) + (rnd() < 0.3 ? pick(['.5', ',000', '%', 'th', 'px']) : ''));
    } else if (r < 0.66) {
      parts.push(pick(POOLS.emoji));
    } else if (r < 0.7) {
      parts.push(pick([EOT, EOT, '<|endoftext', '<|', '|>', 'endoftext', '<|endoftext|>>', '<<|endoftext|>']));
    } else if (r < 0.76) {
      parts.push(pick(POOLS.punct) + (rnd() < 0.5 ? pick(POOLS.punct) : ''));
    } else if (r < 0.8) {
      parts.push(pick(POOLS.latin) + pick(POOLS.combining) + (rnd() < 0.3 ? pick(POOLS.combining) : ''));
    } else if (r < 0.85) {
      // Any code point outside the surrogates.
      let cp;
      do {
        cp = rnd() < 0.7 ? Math.floor(rnd() * 0x10000) : Math.floor(rnd() * 0x110000);
      } while (cp >= 0xd800 && cp <= 0xdfff);
      parts.push(String.fromCodePoint(cp));
    } else if (r < 0.88) {
      parts.push(pick(POOLS.controls));
    } else if (r < 0.9) {
      // Long runs: repeated chars, spaces, newlines.
      parts.push(pick(['a', ' ', '\n', '!', '1', 'é', '😀', '\t', ' \n']).repeat(5 + Math.floor(rnd() * 60)));
    } else {
      parts.push(' ' + pick(WORDS));
    }
    if (rnd() < 0.3) parts.push(' ');
  }
  return parts.join('');
}

function strings(ember, n, seed) {
  const rnd = mulberry32(seed);
  const list = [];
  for (let i = 0; i < n; i++) list.push(genString(rnd));
  const { file, cleanup } = tmpFile('strings.txt', list.join(EOT));
  let failures = 0;
  try {
    const whole = tiktoken(list.join(EOT));
    for (const threads of [1, 2]) {
      const ours = runEmber(ember, file, threads);
      const { bad } = compareBatch(`strings(--threads ${threads})`, list, ours);
      if (firstDiff(ours, whole) !== -1) {
        console.log(`MISMATCH strings(--threads ${threads}): whole-batch ids differ`);
        failures++;
      }
      failures += bad;
      if (bad === 0) {
        console.log(`ok ${n} generated strings (seed ${seed}, ${ours.length} ids, --threads ${threads})`);
      }
    }
  } finally {
    cleanup();
  }
  return failures;
}

// ---- every code point --------------------------------------------------------
// Probes that show the class of X: "X's" separates {letter, number} from
// other (a run of other swallows the apostrophe), "  X" separates whitespace.
// Every code point must agree: there is no list of tolerated divergences.
function sweep(ember) {
  const probes = [];
  const cps = [];
  for (let cp = 0; cp <= 0x10ffff; cp++) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    const X = String.fromCodePoint(cp);
    cps.push(cp);
    probes.push(`${X}'s a${X}1 1${X}a  ${X}!${X}`);
  }
  const { file, cleanup } = tmpFile('sweep.txt', probes.join(EOT));
  let ours;
  try {
    ours = runEmber(ember, file, 0);
  } finally {
    cleanup();
  }
  const diverging = [];
  let k = 0;
  for (let i = 0; i < probes.length; i++) {
    const ref = tiktoken(probes[i]);
    const inner = ref.filter((x) => x === EOT_ID).length;
    let j = k;
    let seen = 0;
    for (; j < ours.length; j++) {
      if (ours[j] === EOT_ID) {
        if (seen === inner) break;
        seen++;
      }
    }
    if (firstDiff(ours.slice(k, j), ref) !== -1) diverging.push(cps[i]);
    k = j + 1;
  }
  let failures = diverging.length;
  if (k !== ours.length + 1) {
    console.log(`MISMATCH sweep: ember emitted ${ours.length} ids, ${ours.length - k + 1} left over`);
    failures++;
  }
  console.log(`${cps.length} code points probed; ${diverging.length} diverge`);
  for (const cp of diverging.slice(0, 50)) {
    const X = String.fromCodePoint(cp);
    console.log(`MISMATCH U+${cp.toString(16).toUpperCase()}: ${escape(`${X}'s a${X}1 1${X}a  ${X}!${X}`)}`);
  }
  if (diverging.length > 50) console.log(`... and ${diverging.length - 50} more`);
  return failures;
}

function main() {
  const [mode, ember, ...rest] = process.argv.slice(2);
  let failures;
  try {
    if (mode === 'corpora') failures = corpora(ember, rest);
    else if (mode === 'strings') failures = strings(ember, Number(rest[0] || 10000), Number(rest[1] || 20261128));
    else if (mode === 'sweep') failures = sweep(ember);
    else {
      console.error('usage: differential.js corpora|strings|sweep EMBER [...]');
      process.exit(2);
    }
  } finally {
    enc.free();
  }
  if (failures > 0) {
    console.log(`FAILED: ${failures} mismatch(es)`);
    process.exit(1);
  }
}

main();
