// The worker that owns the model, tokenizer and document tokens for its whole
// life, on its own QThread. Every request carries a job id and a cancel flag; a
// newer request cancels the one running, and the GUI drops results whose id is
// not the latest (so a cancelled run never overwrites a newer one).
#pragma once

#include <QObject>
#include <QString>
#include <atomic>
#include <functional>
#include <map>
#include <memory>

#include "app/app_state.h"
#include "core/backends/backends.h"
#include "core/tokenizer/tokenizer.h"

namespace ls::app {

struct ModelLoaded {
  QString path;
  ModelConfig config;
  QString summary;
  int max_length = 0;  // longest context that fits in memory now
};

using CancelFlag = std::shared_ptr<std::atomic<bool>>;

class EngineWorker : public QObject {
  Q_OBJECT
 public:
  explicit EngineWorker(QObject* parent = nullptr);

 public slots:
  void load_model(quint64 job, QString path, int train_len_override);
  // latin1: the file's bytes read as ISO-8859-1 (for text that is not UTF-8).
  void load_document(quint64 job, QString path, bool latin1 = false);
  void run_ppl(quint64 job, CancelFlag cancel, MethodList methods, int ctx, int max_tokens);
  // One layer and head under each method (whole layers, cached as the view's).
  void run_attention_compare(quint64 job, CancelFlag cancel, MethodList methods, int ctx, int layer, int head);
  // The attention row of one query under each method (whole layers, cached as the view's).
  void run_token_attention(quint64 job, CancelFlag cancel, MethodList methods, int ctx, int layer, int head, int token);
  void run_attention(quint64 job, CancelFlag cancel, MethodParams method, int ctx, int layer, int head, int q0 = 0,
                     int k0 = 0, int region = 0);
  // Each length scores about max_tokens tokens (windows = max_tokens / length), as a PPL run does.
  void run_sweep(quint64 job, CancelFlag cancel, MethodList methods, QList<int> lengths, int max_tokens);
  // NBCE: `context` (or the open document when empty) cut into `chunks`, the
  // question asked with each method; up to `n` tokens per answer.
  void run_nbce(quint64 job, CancelFlag cancel, MethodList methods, QString question, QString context, int chunks, int n);
  // Retrieval grid: passkey, needle (the open document as haystack) or LongEval lines
  // (the bundled register in the model's own format). nbce_chunks 0: no NBCE row;
  // otherwise one NBCE row run with the first method.
  void run_retrieval(quint64 job, CancelFlag cancel, MethodList methods, RetrievalTask task, QList<int> lengths,
                     QList<double> depths, int trials, int nbce_chunks);
  // The first trial of one grid cell, scored again with its per-token NLL and retrieval head.
  void run_retrieval_detail(quint64 job, CancelFlag cancel, std::shared_ptr<const ls::app::RetrievalSnapshot> grid,
                            int method, int length, int depth);

 signals:
  void note(quint64 job, QString text);  // what a job is doing, for the status line
  void token_attention_ready(std::shared_ptr<const ls::app::TokenAttentionSnapshot> r);
  void attention_compare_ready(std::shared_ptr<const ls::app::AttentionCompareSnapshot> r);
  void model_loaded(quint64 job, ls::app::ModelLoaded info);
  void document_loaded(quint64 job, std::shared_ptr<const ls::app::DocumentSnapshot> doc);
  void ppl_ready(std::shared_ptr<const ls::app::PplSnapshot> r);
  void attention_ready(std::shared_ptr<const ls::app::AttentionSnapshot> r);
  void sweep_ready(std::shared_ptr<const ls::app::SweepSnapshot> r);
  void nbce_ready(std::shared_ptr<const ls::app::NbceSnapshot> r);
  void retrieval_ready(std::shared_ptr<const ls::app::RetrievalSnapshot> r);
  void retrieval_detail_ready(std::shared_ptr<const ls::app::RetrievalDetailSnapshot> r);
  void progress(quint64 job, double fraction);
  void failed(quint64 job, QString message);

 private:
  template <typename Fn>
  void guarded(quint64 job, Fn&& fn);
  void load_model_impl(quint64 job, QString path, int train_len_override);
  void load_document_impl(quint64 job, QString path, bool latin1);
  bool document_latin1_ = false;  // the open document was read as Latin-1
  bool pending_latin1_ = false;
  void run_ppl_impl(quint64 job, CancelFlag cancel, MethodList methods, int ctx, int max_tokens);
  void run_attention_impl(quint64 job, CancelFlag cancel, MethodParams method, int ctx, int layer, int head, int q0,
                          int k0, int region);
  void run_sweep_impl(quint64 job, CancelFlag cancel, MethodList methods, QList<int> lengths, int max_tokens);
  void run_nbce_impl(quint64 job, CancelFlag cancel, MethodList methods, QString question, QString context, int chunks,
                     int n);
  void run_retrieval_impl(quint64 job, CancelFlag cancel, MethodList methods, RetrievalTask task, QList<int> lengths,
                          QList<double> depths, int trials, int nbce_chunks);
  void run_retrieval_detail_impl(quint64 job, CancelFlag cancel, std::shared_ptr<const RetrievalSnapshot> grid,
                                 int method, int length, int depth);
  // PPL of one method at one length, from the cache when this model and document
  // have computed it before (cleared when either changes).
  Result<PplResult> cached_ppl(const RunConfig& run, int ctx, int windows);
  Result<RunConfig> run_config(const MethodParams& method, const CancelFlag& cancel, quint64 job);
  bool document_ready(quint64 job);
  std::shared_ptr<const Model> model_;
  BackendCache backends_;  // one backend per model and request, shared by every run on the model
  std::shared_ptr<const Tokenizer> tokenizer_;
  QString document_path_, document_text_;
  QString pending_document_;  // asked for before any model loaded
  std::vector<int> tokens_;
  struct PplKey {
    MethodParams method;
    int ctx = 0, windows = 0;
    auto operator<=>(const PplKey&) const = default;
  };
  std::map<PplKey, PplResult> cache_;
  // A layer's attention, every head, per (method, n, layer): a head switch costs nothing
  // and a layer costs one forward, once. The newest few layers are kept.
  struct AttentionKey {
    MethodParams method;
    int ctx = 0, layer = 0;
    auto operator<=>(const AttentionKey&) const = default;
  };
  std::vector<std::pair<AttentionKey, std::shared_ptr<const std::vector<AttentionMap>>>> attention_cache_;
  // Every head of `layer` under `method` at n: from the cache, else one forward (then cached).
  // fn(method, every head's map) for each method that runs at n, its layer maps from layer_maps.
  Status each_method_layer(quint64 job, const CancelFlag& cancel, const MethodList& methods, int n, int layer,
                           const std::function<void(const MethodParams&, const std::vector<AttentionMap>&)>& fn);
  Result<std::shared_ptr<const std::vector<AttentionMap>>> layer_maps(const RunConfig& run, int n, int layer,
                                                                      bool* cached = nullptr);
};

}  // namespace ls::app

Q_DECLARE_METATYPE(ls::app::ModelLoaded)
Q_DECLARE_METATYPE(ls::app::CancelFlag)
