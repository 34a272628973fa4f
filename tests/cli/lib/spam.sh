# What the chapter-6 scripts share: spam CSVs in the book's form and the
# tests' tiny GPT. Sourced after start.sh and needs.sh ($w, $src, need_spam).

# spam_csvs TEST PER_CLASS: $w/train.csv, validation.csv and test.csv from
# PER_CLASS ham and PER_CLASS spam mail subjects (tests/reference/spam_csv.js,
# the book's 70/10/20 split); a skip (77) without node's spam corpus.
spam_csvs() {
  need_spam "$1 (spam CSVs)"
  node tests/reference/spam_csv.js "$w" --per-class "$2" >"$w/spam.log" ||
    { cat "$w/spam.log"; exit 1; }
}

# The [data] lines of a classification config over those CSVs.
spam_data_toml() {
  cat <<TOML
[data]
format = "classification"
train_path = "$w/train.csv"
val_path = "$w/validation.csv"
test_path = "$w/test.csv"
TOML
}

# tiny_model_toml CONTEXT_LENGTH: the model lines (no section header) of a
# GPT with GPT-2's vocabulary, 2 layers of width 16, 2 heads, no dropout.
tiny_model_toml() {
  cat <<TOML
vocab_size = 50257
context_length = $1
emb_dim = 16
n_layers = 2
n_heads = 2
drop_rate = 0.0
TOML
}
