#include "app/engine_worker.h"

#include <algorithm>
#include <utility>

#include "core/backends/backends.h"
#include "core/model/describe.h"
#include "core/position/spec.h"
#include "core/util/files.h"

namespace ls::app {

namespace {

// Every run, the model line and the length cap: the CUDA backend where one is built
// in and finds a device, else the CPU.
constexpr const char* kBackend = "auto";

}  // namespace

EngineWorker::EngineWorker(QObject* parent) : QObject(parent) {}

// Errors are values in core/, but an exception (a library's, or memory running out)
// must never end the app: it becomes a failed job, and the loaded state is kept
// because every slot assigns its members only after its work succeeded.
template <typename Fn>
void EngineWorker::guarded(quint64 job, Fn&& fn) {
  try {
    fn();
  } catch (const std::bad_alloc&) {
    emit failed(job, "out of memory: the request needs more memory than this machine has");
  } catch (const std::exception& e) {
    emit failed(job, QString("internal error: %1").arg(e.what()));
  } catch (...) {
    emit failed(job, "internal error (unknown exception)");
  }
}

void EngineWorker::load_model(quint64 job, QString path, int train_len_override) {
  guarded(job, [&] { load_model_impl(job, path, train_len_override); });
}

void EngineWorker::load_model_impl(quint64 job, QString path, int train_len_override) {
  LoadOptions o;
  o.train_len_override = train_len_override;
  auto m = ls::load_model(path.toStdString(), o);
  if (!m) {
    emit failed(job, QString::fromStdString(m.error()));
    return;
  }
  auto tok = Tokenizer::for_model(*m.value());
  if (!tok) {
    emit failed(job, QString::fromStdString(tok.error()));
    return;
  }
  model_ = m.value();  // only now: a bad file leaves the previous model in place
  cache_.clear();
  attention_cache_.clear();
  tokenizer_ = tok.value();
  const ModelConfig& c = model_->config;
  ModelLoaded info;
  info.path = path;
  info.config = c;
  const std::string backend = resolve_backend(kBackend, false).value();  // "auto" never fails
  info.summary = QString::fromStdString(model_line(*model_, tokenizer_->kind(), backend));
  // A slow BLAS is worth a word where the user looks (`longscope-cli info` explains it).
  if (const CpuDescription cpu = cpu_description(); backend == "cpu" && !cpu.blas_better.empty())
    info.summary += QString::fromStdString(" (slow BLAS kernels: OPENBLAS_CORETYPE=" + cpu.blas_better + " is faster)");
  // The longest context whose engine fits in half the memory the backend that will
  // run it has now (a device's free memory after the weights; the host's for the CPU).
  BackendRequest run_on;
  run_on.kind = kBackend;
  info.max_length = longest_context(c, backend_memory_available(model_, run_on, &backends_));
  // The document (waiting, or re-tokenised for the new vocabulary) first: the
  // model job ends with model_loaded, when both are in place.
  if (!pending_document_.isEmpty()) load_document_impl(job, std::exchange(pending_document_, QString()), pending_latin1_);
  else if (!document_text_.isEmpty()) load_document_impl(job, document_path_, document_latin1_);
  emit model_loaded(job, info);
}

void EngineWorker::load_document(quint64 job, QString path, bool latin1) {
  guarded(job, [&] { load_document_impl(job, path, latin1); });
}

void EngineWorker::load_document_impl(quint64 job, QString path, bool latin1) {
  if (!tokenizer_) {
    // No model yet (or the first one failed): the document waits for one, and the
    // model's own error stays the one on screen.
    pending_document_ = path;
    pending_latin1_ = latin1;
    emit failed(job, QString());
    return;
  }
  // The document pane paints every token: the app takes documents up to 16 MiB
  // (the CLI up to 64 MiB), and checks the memory the shown pieces take.
  Result<std::string> text = make_error("");
  if (latin1) {  // every byte is a character of ISO-8859-1: always decodes, accents kept
    auto bytes = read_regular_file(path.toStdString(), "document", size_t{16} << 20);
    if (!bytes) text = make_error(bytes.error());
    else if (QByteArray::fromStdString(bytes.value()).trimmed().isEmpty())
      text = make_error("document " + path.toStdString() + " is empty");
    else text = QString::fromLatin1(QByteArray::fromStdString(bytes.value())).toStdString();
  } else {
    text = read_text_file(path.toStdString(), size_t{16} << 20);
  }
  if (!text) {
    emit failed(job, QString::fromStdString(text.error()));
    return;
  }
  auto ids = encode_document(*tokenizer_, text.value());
  if (!ids) {
    emit failed(job, QString::fromStdString(ids.error()));
    return;
  }
  constexpr size_t kBytesPerShownToken = 96;  // QString piece, colours, layout
  if (auto st = check_memory(ids->size() * kBytesPerShownToken + text->size() * 4,
                             "showing a document of " + std::to_string(ids->size()) + " tokens",
                             "open a shorter excerpt");
      !st) {
    emit failed(job, QString::fromStdString(st.error()));
    return;
  }
  document_path_ = path;
  document_latin1_ = latin1;
  cache_.clear();
  attention_cache_.clear();
  document_text_ = QString::fromStdString(text.value());
  tokens_ = ids.value();
  auto doc = std::make_shared<DocumentSnapshot>();
  doc->path = path;
  doc->tokens = tokens_;
  for (int id : tokens_) doc->pieces << QString::fromStdString(tokenizer_->piece(id));
  emit document_loaded(job, doc);
}

bool EngineWorker::document_ready(quint64 job) {
  if (!model_ || tokens_.size() < 2) {
    emit failed(job, "load a model and a document first");
    return false;
  }
  return true;
}

Result<RunConfig> EngineWorker::run_config(const MethodParams& method, const CancelFlag& cancel, quint64 job) {
  if (auto st = check_method_for_model(method, model_->config); !st) return make_error(st.error());
  RunConfig run;
  run.model = model_;
  run.engine.method = method;
  run.backend.kind = kBackend;
  run.backends = &backends_;
  run.engine.cancel = cancel.get();
  run.progress = [this, job](double f) { emit progress(job, f); };
  return run;
}

void EngineWorker::run_ppl(quint64 job, CancelFlag cancel, MethodList methods, int ctx, int max_tokens) {
  guarded(job, [&] { run_ppl_impl(job, cancel, methods, ctx, max_tokens); });
}

Result<PplResult> EngineWorker::cached_ppl(const RunConfig& run, int ctx, int windows) {
  const PplKey key{run.engine.method, ctx, windows};
  if (auto it = cache_.find(key); it != cache_.end()) return it->second;
  auto r = ls::run_ppl(run, tokens_, ctx, windows);
  if (r) cache_[key] = r.value();
  return r;
}

void EngineWorker::run_ppl_impl(quint64 job, CancelFlag cancel, MethodList methods, int ctx, int max_tokens) {
  if (!document_ready(job)) return;
  auto snap = std::make_shared<PplSnapshot>();
  snap->job = job;
  snap->ctx = ctx;
  const int windows = std::max(1, max_tokens / ctx);
  // Say what really runs: the methods not yet computed for this (model, document, n).
  size_t to_compute = 0;
  for (const auto& m : methods) to_compute += cache_.count(PplKey{m, ctx, windows}) == 0;
  emit note(job, to_compute == methods.size()
                     ? QString("Computing per-token NLL for %1 method(s) at n = %2…").arg(to_compute).arg(ctx)
                     : QString("Computing per-token NLL for %1 of %2 methods at n = %3 (the others from the cache)…")
                           .arg(to_compute).arg(methods.size()).arg(ctx));
  size_t computed = 0;
  QStringList skipped;
  for (size_t i = 0; i < methods.size(); ++i) {
    // A method that cannot run at this length (a remapping method over sliding local
    // layers) is left out and said; the others still run.
    if (auto st = check_method_at_length(methods[i], model_->config, ctx); !st) {
      skipped << QString::fromStdString(st.error());
      continue;
    }
    auto run = run_config(methods[i], cancel, job);
    if (!run) return emit failed(job, QString::fromStdString(run.error()));
    run->progress = [this, job, computed, n = std::max<size_t>(1, to_compute)](double f) {
      emit progress(job, ((double)computed + f) / (double)n);
    };
    // Only methods not yet computed for this (model, document, n) run: the rest come from the cache.
    computed += cache_.count(PplKey{methods[i], ctx, windows}) == 0;
    auto r = cached_ppl(run.value(), ctx, windows);
    if (!r) return emit failed(job, QString::fromStdString(r.error()));
    snap->methods.push_back(methods[i]);
    snap->results.push_back(r.take());
    if (i + 1 < methods.size()) {  // the views draw each method as it arrives
      auto part = std::make_shared<PplSnapshot>(*snap);
      part->partial = true;
      emit ppl_ready(part);
    }
  }
  if (snap->methods.empty()) return emit failed(job, skipped.join("; "));
  snap->skipped = skipped.join("; ");
  emit ppl_ready(snap);
}

void EngineWorker::run_attention(quint64 job, CancelFlag cancel, MethodParams method, int ctx, int layer, int head, int q0,
                                 int k0, int region) {
  guarded(job, [&] { run_attention_impl(job, cancel, method, ctx, layer, head, q0, k0, region); });
}

void EngineWorker::run_attention_impl(quint64 job, CancelFlag cancel, MethodParams method, int ctx, int layer, int head, int q0,
                                 int k0, int region) {
  if (!document_ready(job)) return;
  auto run = run_config(method, cancel, job);
  if (!run) {
    emit failed(job, QString::fromStdString(run.error()));
    return;
  }
  const int n = std::min<int>(ctx, (int)tokens_.size());
  auto snap = std::make_shared<AttentionSnapshot>();
  snap->job = job;
  snap->method = method;
  snap->layer = layer;
  snap->head = head;
  snap->ctx = n;
  if (region > 0) {  // a full-resolution block: one head, not cached
    auto m = ls::run_attention(run.value(), tokens_, n, layer, head, 0, PoolMode::Max,
                               AttentionRegion{std::min(q0, n - 1), std::min(k0, n - 1), std::min(region, n)});
    if (!m) return emit failed(job, QString::fromStdString(m.error()));
    snap->map = m.take();
    return emit attention_ready(snap);
  }
  auto maps = layer_maps(run.value(), n, layer, &snap->cached);
  if (!maps) return emit failed(job, QString::fromStdString(maps.error()));
  snap->map = (**maps)[(size_t)std::clamp(head, 0, (int)(*maps)->size() - 1)];
  emit attention_ready(snap);
}

Result<std::shared_ptr<const std::vector<AttentionMap>>> EngineWorker::layer_maps(const RunConfig& run, int n, int layer,
                                                                                  bool* cached) {
  const AttentionKey key{run.engine.method, n, layer};
  auto hit = std::find_if(attention_cache_.begin(), attention_cache_.end(), [&](const auto& e) { return e.first == key; });
  std::shared_ptr<const std::vector<AttentionMap>> maps;
  if (hit != attention_cache_.end()) {
    maps = hit->second;
    attention_cache_.erase(hit);
    if (cached) *cached = true;
  } else {
    // Pooled to at most 1024² per head, and to less where many heads would take more than ~256 MB.
    const int heads = std::max(1, model_->config.n_heads);
    const int side = std::min(1024, std::max(128, (int)std::sqrt((64 << 20) / (double)heads)));
    auto m = ls::run_attention_heads(run, tokens_, n, layer, n > side ? side : 0, PoolMode::Max);
    if (!m) return make_error(m.error());
    maps = std::make_shared<const std::vector<AttentionMap>>(m.take());
  }
  attention_cache_.emplace_back(key, maps);  // newest last
  if (attention_cache_.size() > 12) attention_cache_.erase(attention_cache_.begin());
  return maps;
}

Status EngineWorker::each_method_layer(
    quint64 job, const CancelFlag& cancel, const MethodList& methods, int n, int layer,
    const std::function<void(const MethodParams&, const std::vector<AttentionMap>&)>& fn) {
  for (size_t i = 0; i < methods.size(); ++i) {
    if (!check_method_at_length(methods[i], model_->config, n)) continue;  // left out, as the PPL run does
    auto run = run_config(methods[i], cancel, job);
    if (!run) return make_error(run.error());
    run->progress = [this, job, i, k = methods.size()](double f) { emit progress(job, ((double)i + f) / (double)k); };
    auto maps = layer_maps(run.value(), n, layer);
    if (!maps) return make_error(maps.error());
    fn(methods[i], **maps);
  }
  return Status::Ok();
}

void EngineWorker::run_attention_compare(quint64 job, CancelFlag cancel, MethodList methods, int ctx, int layer, int head) {
  guarded(job, [&] {
    if (!document_ready(job)) return;
    auto snap = std::make_shared<AttentionCompareSnapshot>();
    snap->job = job;
    snap->layer = layer;
    snap->head = head;
    snap->ctx = std::min<int>(ctx, (int)tokens_.size());
    auto st = each_method_layer(job, cancel, methods, snap->ctx, layer, [&](const MethodParams& m, const auto& maps) {
      snap->methods.push_back(m);
      snap->maps.push_back(maps[(size_t)std::clamp(head, 0, (int)maps.size() - 1)]);
    });
    if (!st) return emit failed(job, QString::fromStdString(st.error()));
    emit attention_compare_ready(snap);
  });
}

void EngineWorker::run_token_attention(quint64 job, CancelFlag cancel, MethodList methods, int ctx, int layer, int head,
                                       int token) {
  guarded(job, [&] {
    if (!document_ready(job)) return;
    const int n = std::min<int>(ctx, (int)tokens_.size());
    if (token < 0 || token >= n) return emit failed(job, QString("token %1 is outside the first window (n = %2)").arg(token).arg(n));
    auto snap = std::make_shared<TokenAttentionSnapshot>();
    snap->job = job;
    snap->token = token;
    snap->layer = layer;
    snap->head = head;
    snap->ctx = n;
    auto st = each_method_layer(job, cancel, methods, n, layer, [&](const MethodParams& method, const auto& maps) {
      const AttentionMap& m = maps[(size_t)std::clamp(head, 0, (int)maps.size() - 1)];
      const int side = m.pooled ? m.pooled : m.n;
      const int row = (int)((long long)token * side / m.n);
      snap->pooled = m.pooled;
      snap->methods.push_back(method);
      snap->rows.emplace_back(m.probs.begin() + (ptrdiff_t)row * side, m.probs.begin() + (ptrdiff_t)(row + 1) * side);
    });
    if (!st) return emit failed(job, QString::fromStdString(st.error()));
    emit token_attention_ready(snap);
  });
}

void EngineWorker::run_sweep(quint64 job, CancelFlag cancel, MethodList methods, QList<int> lengths, int max_tokens) {
  guarded(job, [&] { run_sweep_impl(job, cancel, methods, lengths, max_tokens); });
}

void EngineWorker::run_sweep_impl(quint64 job, CancelFlag cancel, MethodList methods, QList<int> lengths,
                                  int max_tokens) {
  if (!document_ready(job)) return;
  if (lengths.isEmpty()) return emit failed(job, "no sweep lengths");
  const std::vector<int> lens(lengths.begin(), lengths.end());
  const int longest = *std::max_element(lens.begin(), lens.end());
  QStringList skipped;
  std::erase_if(methods, [&](const MethodParams& m) {
    auto st = check_method_at_length(m, model_->config, longest);
    if (!st) skipped << QString::fromStdString(st.error());
    return !st;
  });
  if (methods.empty()) return emit failed(job, skipped.isEmpty() ? "choose at least one method" : skipped.join("; "));
  auto base = run_config(methods[0], cancel, job);
  if (!base) return emit failed(job, QString::fromStdString(base.error()));
  // Each length uses the windows a PPL run there would use, so cells come from the shared cache.
  auto r = ls::run_sweep(base.value(), methods, lens,
                         default_bucket_edges(model_->config.train_len, *std::max_element(lens.begin(), lens.end())),
                         tokens_, 0, [this, max_tokens](const RunConfig& cell, int len) {
                           return cached_ppl(cell, len, std::max(1, max_tokens / len));
                         });
  if (!r) return emit failed(job, QString::fromStdString(r.error()));
  auto snap = std::make_shared<SweepSnapshot>();
  snap->job = job;
  snap->result = r.take();
  snap->skipped = skipped.join("; ");
  emit sweep_ready(snap);
}

void EngineWorker::run_nbce(quint64 job, CancelFlag cancel, MethodList methods, QString question, QString context,
                            int chunks, int n) {
  guarded(job, [&] { run_nbce_impl(job, cancel, methods, question, context, chunks, n); });
}

void EngineWorker::run_nbce_impl(quint64 job, CancelFlag cancel, MethodList methods, QString question, QString context,
                                 int chunks, int n) {
  if (!model_ || !tokenizer_) return emit failed(job, "load a model first");
  const std::string text = (context.trimmed().isEmpty() ? document_text_ : context).toStdString();
  if (QString::fromStdString(text).trimmed().isEmpty()) return emit failed(job, "NBCE needs a context: open a document or paste text");
  std::vector<int> ctx;
  if (auto st = encode_in_pieces(*tokenizer_, text, ctx); !st) return emit failed(job, QString::fromStdString(st.error()));
  if ((int)ctx.size() < chunks) return emit failed(job, "the context has fewer tokens than chunks");
  auto q = tokenizer_->encode(question.trimmed().toStdString());
  if (!q || q->empty()) return emit failed(job, "the question is empty");
  std::vector<int> qids = tokenizer_->prefix();
  qids.insert(qids.end(), q->begin(), q->end());
  const auto pieces = nbce_chunks(ctx, chunks, tokenizer_->prefix());
  auto snap = std::make_shared<NbceSnapshot>();
  snap->job = job;
  snap->question = question;
  snap->chunks = chunks;
  for (size_t i = 0; i < methods.size(); ++i) {
    auto run = run_config(methods[i], cancel, job);
    if (!run) return emit failed(job, QString::fromStdString(run.error()));
    run->progress = [this, job, i, k = methods.size()](double f) { emit progress(job, ((double)i + f) / (double)k); };
    NbceOptions no;
    no.prefix = tokenizer_->prefix();
    auto r = ls::run_nbce(run.value(), pieces, qids, n, no);
    if (!r) return emit failed(job, QString("%1: %2").arg(AppState::label(methods[i]), QString::fromStdString(r.error())));
    snap->methods.push_back(methods[i]);
    snap->answers.push_back(QString::fromStdString(tokenizer_->decode(r->tokens)));
    snap->chosen_chunk.push_back(r->chosen_chunk);
  }
  emit nbce_ready(snap);
}

void EngineWorker::run_retrieval(quint64 job, CancelFlag cancel, MethodList methods, RetrievalTask task, QList<int> lengths,
                                 QList<double> depths, int trials, int nbce_chunks) {
  guarded(job, [&] { run_retrieval_impl(job, cancel, methods, task, lengths, depths, trials, nbce_chunks); });
}

void EngineWorker::run_retrieval_impl(quint64 job, CancelFlag cancel, MethodList methods, RetrievalTask task,
                                      QList<int> lengths, QList<double> depths, int trials, int nbce_chunks) {
  if (!model_ || !tokenizer_) return emit failed(job, "load a model first");
  if (methods.empty()) return emit failed(job, "choose at least one method");
  auto snap = std::make_shared<RetrievalSnapshot>();
  snap->job = job;
  RetrievalOptions& o = snap->options;
  o.lengths.assign(lengths.begin(), lengths.end());
  o.depths.assign(depths.begin(), depths.end());
  o.seeds = trials;
  o.task = task;
  if (task == RetrievalTask::Needle) {
    if (!document_ready(job)) return;
    o.filler_doc = tokens_;
  } else if (task == RetrievalTask::LongEvalLines) {
    auto cases = read_longeval(LONGSCOPE_RESOURCES_DIR "/documents/longeval/200_lines.jsonl", o.task);
    if (!cases) return emit failed(job, QString::fromStdString(cases.error()));
    o.cases = cases.take();
    o.depths = {0.5};  // each case fixes where its asked line sits
  } else if (task != RetrievalTask::Passkey) {
    return emit failed(job, QString("the app has no %1 grid").arg(task_name(task)));
  }
  auto base = run_config(methods[0], cancel, job);
  if (!base) return emit failed(job, QString::fromStdString(base.error()));
  if (nbce_chunks > 0) o.nbce_chunks = {nbce_chunks};
  snap->methods = methods;
  auto g = ls::run_retrieval(base.value(), *tokenizer_, methods, o);
  if (!g) return emit failed(job, QString::fromStdString(g.error()));
  snap->grid = g.take();
  emit retrieval_ready(snap);
}

void EngineWorker::run_retrieval_detail(quint64 job, CancelFlag cancel, std::shared_ptr<const RetrievalSnapshot> grid,
                                        int method, int length, int depth) {
  guarded(job, [&] { run_retrieval_detail_impl(job, cancel, grid, method, length, depth); });
}

void EngineWorker::run_retrieval_detail_impl(quint64 job, CancelFlag cancel, std::shared_ptr<const RetrievalSnapshot> grid,
                                             int method, int length, int depth) {
  if (!model_ || !tokenizer_ || !grid) return emit failed(job, "load a model first");
  const RetrievalGrid& g = grid->grid;
  const RetrievalCell* cell = g.cell((size_t)method, (size_t)length, (size_t)depth);
  if (!cell) return emit failed(job, "no such retrieval cell");
  auto run = run_config(grid->row_method((size_t)method), cancel, job);
  if (!run) return emit failed(job, QString::fromStdString(run.error()));
  auto p = make_trial_prompt(*tokenizer_, grid->options, length, depth, 0);
  if (!p) return emit failed(job, QString::fromStdString(p.error()));
  auto snap = std::make_shared<RetrievalDetailSnapshot>();
  snap->job = job;
  snap->label = QString::fromStdString(g.methods[(size_t)method]);
  snap->method = run->engine.method;
  snap->length = g.lengths[(size_t)length];
  snap->depth = g.depths[(size_t)depth];
  run->progress = [this, job](double f) { emit progress(job, 0.2 + 0.8 * f); };
  auto t = score_prompt(run.value(), *tokenizer_, *p, 0, &snap->nll);
  if (!t) return emit failed(job, QString::fromStdString(t.error()));
  snap->trial = cell->trials.empty() ? t.value() : cell->trials[0];  // the grid's own verdict (NBCE's for NBCE)
  emit progress(job, 0.2);
  auto h = find_retrieval_head(run.value(), *p);
  if (!h) return emit failed(job, QString::fromStdString(h.error()));
  snap->head = h.take();
  for (int id : p->tokens) snap->pieces << QString::fromStdString(tokenizer_->piece(id));
  snap->prompt = p.take();
  emit retrieval_detail_ready(snap);
}

}  // namespace ls::app
