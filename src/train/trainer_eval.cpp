// The trainer's evaluations (trainer_state.hpp): the book's evaluate_model
// every eval_freq steps, and after each epoch its generate_and_print_sample
// (ch05) or a classifier's accuracies (ch06, train_classifier_simple), with
// the whole splits' accuracies at the end (accuracy.json).
#include <algorithm>
#include <cmath>

#include "trainer_state.hpp"
#include <c10/core/GradMode.h>
#include <fmt/core.h>

#include <ember/generate/generate.hpp>
#include <ember/util/atomic_file.hpp>
#include <ember/util/io.hpp>

namespace ember::detail {

// The book's evaluate_model: eval mode, no grad, then back to training;
// logs and records both losses.
void Trainer::evaluate() {
  double train_loss = 0;
  double val_loss = 0;
  {
    c10::NoGradGuard no_grad;
    model_->eval();
    const auto eval_iter = cfg_.train.eval.eval_iter;
    const auto& device = runtime_.device;
    train_loss = calc_loss_loader(
        model_, data_->train, eval_iter, device, share(), group_.get());
    val_loss = calc_loss_loader(
        model_, data_->val, eval_iter, device, share(), group_.get());
    model_->train();
  }
  EvalRecord r;
  r.step = step_;
  r.epoch = epoch_ + 1;
  r.train_loss = train_loss;
  r.val_loss = val_loss;
  r.tokens_seen = tokens_seen_;
  r.examples = classifier();
  r.elapsed_s = elapsed_before_ + session_s();
  r.tokens_per_s = static_cast<double>(tokens_seen_ - tokens_at_start_) /
                   std::max(session_s(), 1e-9);
  r.lr = last_lr_;
  r.grad_norm = last_grad_norm_;
  evals_.push_back(r);
  write_outputs();
  bar_.clear();
  fmt::print(
      log_,
      "ep {} (step {:06d}): train loss {:.3f}, val loss {:.3f} | lr {:.3g} | "
      "{} seen {} | {:.0f} {}/s\n",
      r.epoch,
      r.step,
      r.train_loss,
      r.val_loss,
      r.lr,
      r.examples ? "examples" : "tokens",
      r.tokens_seen,
      r.tokens_per_s,
      r.examples ? "examples" : "tok");
  std::fflush(log_);
  if (!std::isfinite(train_loss))
    throw non_finite("training (evaluation)", train_loss);
  if (!std::isfinite(val_loss)) throw non_finite("validation", val_loss);
}

// After each epoch: the book's sample (ch05) or a classifier's accuracies
// (ch06).
void Trainer::end_epoch() {
  print_sample();
  if (classifier()) epoch_accuracy();
}

// The book's train_classifier_simple after each epoch: calc_accuracy_loader
// on eval_iter batches of the training data, then of the validation data
// (each a fresh pass: the training one draws its shuffle).
void Trainer::epoch_accuracy() {
  AccuracyRecord r;
  {
    c10::NoGradGuard no_grad;
    model_->eval();
    const auto n = cfg_.train.eval.eval_iter;
    const auto& device = runtime_.device;
    r.train_accuracy =
        calc_accuracy_loader(
            model_, data_->train, n, device, share(), group_.get())
            .fraction();
    r.val_accuracy = calc_accuracy_loader(
                         model_, data_->val, n, device, share(), group_.get())
                         .fraction();
    model_->train();
  }
  r.step = step_;
  r.epoch = epoch_ + 1;
  r.examples_seen = tokens_seen_;
  accuracies_.push_back(r);
  write_outputs();
  bar_.clear();
  fmt::print(
      log_,
      "ep {}: training accuracy {:.2f}% | validation accuracy {:.2f}%\n",
      r.epoch,
      100 * r.train_accuracy,
      100 * r.val_accuracy);
  std::fflush(log_);
}

// A classifier's accuracies on the whole of each split once training is
// done (the book's closing calc_accuracy_loader calls), printed and
// written to run.dir/accuracy.json.
void Trainer::final_accuracy() {
  c10::NoGradGuard no_grad;
  model_->eval();
  const auto& device = runtime_.device;
  const auto whole = [&](Loader& loader) {
    return calc_accuracy_loader(
               model_, loader, 0, device, share(), group_.get())
        .fraction();
  };
  const double train = whole(data_->train);
  const double val = whole(data_->val);
  std::string json =
      fmt::format("{{\"train\": {:.17g}, \"val\": {:.17g}", train, val);
  std::string line = fmt::format(
      "accuracy: training {:.2f}% | validation {:.2f}%",
      100 * train,
      100 * val);
  if (data_->test) {
    const double test = whole(*data_->test);
    json += fmt::format(", \"test\": {:.17g}", test);
    line += fmt::format(" | test {:.2f}%", 100 * test);
  }
  model_->train();
  fmt::print(log_, "{} (written to {})\n", line, folder_.accuracies());
  if (lead_) write_file_atomic(folder_.accuracies(), json + "}\n");
}

// The book's generate_and_print_sample, after each epoch: greedy
// continuation of train.sample_prompt in eval mode (no random draws, so the
// run's numbers do not change), printed on one line and appended to
// run.dir/samples.txt.
void Trainer::print_sample() {
  if (cfg_.train.eval.sample_prompt.empty() || !lead_) return;
  const Tokenizer& tokenizer = *tokenizer_;
  GenerateOptions gen;
  gen.max_new_tokens = cfg_.train.eval.sample_tokens;
  gen.context_size = cfg_.model.context_length;
  const auto out =
      generate(model_, id_batch(sample_ids_).to(runtime_.device), gen);
  model_->train();
  std::string text = tokenizer.decode(row_ids(out[0]));
  std::replace(text.begin(), text.end(), '\n', ' ');
  bar_.clear();
  fmt::print(log_, "sample (epoch {}): {}\n", epoch_ + 1, text);
  std::fflush(log_);
  samples_ += fmt::format("epoch {} (step {}): {}\n", epoch_ + 1, step_, text);
  write_file_atomic(folder_.samples(), samples_);
}

}  // namespace ember::detail
