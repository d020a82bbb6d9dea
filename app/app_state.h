// The state every view draws from: the model's geometry, the selected methods,
// the context length, the document, and the latest results of model runs
// (immutable snapshots handed over from the worker thread).
#pragma once

#include <QColor>
#include <QObject>
#include <QString>
#include <QStringList>
#include <QTimer>
#include <algorithm>
#include <map>
#include <memory>
#include <vector>

#include "core/analysis/analysis.h"
#include "core/analysis/retrieval.h"
#include "core/model/model.h"
#include "core/position/position.h"

namespace ls::app {

struct DocumentSnapshot {
  QString path;
  std::vector<int> tokens;
  QStringList pieces;  // display text per token
};

using MethodList = std::vector<MethodParams>;

struct PplSnapshot {
  quint64 job = 0;
  int ctx = 0;
  MethodList methods;              // what ran, in the selection's order
  std::vector<PplResult> results;  // one per method, same order
  QString skipped;                 // the selected methods that cannot run at this length, and why ("" if none)
  bool partial = false;            // more methods are coming: each result is shown as it arrives
};

struct AttentionSnapshot {
  quint64 job = 0;
  MethodParams method;
  int layer = 0, head = 0, ctx = 0;
  bool cached = false;  // from the worker's cache of whole layers: no forward ran for it
  AttentionMap map;  // includes per-head summaries of the layer
};

// NBCE question answering: the answer each method gives from the same chunks.
// The selected token's attention row under each method (one layer and head, the first window).
struct TokenAttentionSnapshot {
  quint64 job = 0;
  int token = -1, layer = 0, head = 0, ctx = 0;
  int pooled = 0;                     // keys per cell = ctx / pooled when pooled (0: one key per cell)
  MethodList methods;
  std::vector<std::vector<float>> rows;  // per method: p(token, key cell), cells of the row
};

// One layer and head under every method: the Attention view's small multiples and A − B.
struct AttentionCompareSnapshot {
  quint64 job = 0;
  int layer = 0, head = 0, ctx = 0;
  MethodList methods;
  std::vector<AttentionMap> maps;  // per method, the head's map (same pooling for all)
};

struct NbceSnapshot {
  quint64 job = 0;
  QString question;
  int chunks = 0;
  MethodList methods;
  std::vector<QString> answers;
  std::vector<std::vector<int>> chosen_chunk;  // k* per generated token, per method
};

struct SweepSnapshot {
  quint64 job = 0;
  SweepResult result;
  QString skipped;  // methods left out (they cannot run at the longest length), and why
};

// A retrieval grid (passkey, needle on the document, LongEval lines) per method,
// with the options that built it (a clicked cell's prompt is rebuilt from them).
struct RetrievalSnapshot {
  quint64 job = 0;
  RetrievalOptions options;
  MethodList methods;  // the grid's position-method rows, in order (NBCE rows follow them)
  RetrievalGrid grid;
  // The method row `row` ran with (NBCE rows: their base, the first method), and whether it is an NBCE row.
  const MethodParams& row_method(size_t row) const { return methods[row < methods.size() ? row : 0]; }
  bool nbce_row(size_t row) const { return row >= methods.size(); }
};

// One trial opened from the grid: its prompt, per-token NLL, and the head that
// attends most to the needle from the answer position.
struct RetrievalDetailSnapshot {
  quint64 job = 0;
  QString label;         // the cell's row as the grid names it ("nbce:k=K" for NBCE rows)
  MethodParams method;   // what scored it (NBCE cells: NLL and head under the base method)
  int length = 0;
  double depth = 0;
  RetrievalPrompt prompt;
  QStringList pieces;
  std::vector<double> nll;  // entry p scores tokens[p+1]
  RetrievalTrial trial;
  RetrievalHead head;
};

class AppState : public QObject {
  Q_OBJECT
 public:
  explicit AppState(QObject* parent = nullptr);

  // Model geometry (from the loaded model, or the bundled default before it loads).
  ModelConfig config;
  QString model_path;
  QString model_summary;
  MethodList methods;                 // selected methods, at least one
  int length = 4096;                  // chosen context length n (8L on the bundled model: the story shows)
  int max_length = 1 << 16;           // what memory allows for this model
  int layer = 0, head = 0;            // attention view selection
  int attention_method = -1;          // id of the method the attention view shows (-1 or gone: the first)
  RetrievalTask retrieval_task = RetrievalTask::Passkey;
  std::shared_ptr<const DocumentSnapshot> document;
  std::shared_ptr<const PplSnapshot> ppl;
  std::shared_ptr<const AttentionSnapshot> attention;
  std::shared_ptr<const SweepSnapshot> sweep;
  std::shared_ptr<const NbceSnapshot> nbce;
  std::shared_ptr<const RetrievalSnapshot> retrieval;
  std::shared_ptr<const RetrievalDetailSnapshot> retrieval_detail;  // shown in the document pane while set
  std::shared_ptr<const TokenAttentionSnapshot> token_attention;
  std::shared_ptr<const AttentionCompareSnapshot> attention_compare;
  // The token chosen by a click in the document, the Perplexity chart or the Story (-1: none):
  // every view that can shows it.
  int selected_token = -1;
  void select_token(int token) {
    if (token == selected_token) return;
    selected_token = token;
    emit token_selected(token);
    touch();
  }
  // What is being computed now (the window keeps it current): views label stale content.
  enum Running : unsigned { kRunPpl = 1, kRunAttention = 2, kRunSweep = 4, kRunRetrieval = 8, kRunTokenAttention = 16,
                            kRunAttentionCompare = 32 };
  unsigned running = 0;

  PositionContext context_at(int n) const {
    return PositionContext{config.rot_dim > 0 ? config.rot_dim : 64, config.rope_base, (double)config.train_len,
                           (double)n};
  }
  // Spec text of a method: for labels, legends, session files and exports only.
  static QString label(const MethodParams& m);
  QStringList method_labels() const;
  bool alibi_model() const { return arch_alibi(config.arch); }

  // Each selected method has a stable id (same order as `methods`): colour, visibility
  // and the attention view's choice follow it through parameter edits.
  const std::vector<int>& method_ids() const { return ids_; }
  int id_of(const MethodParams& m) const;  // -1: not selected
  const MethodParams* method_by_id(int id) const;
  // The method the attention view shows: its chosen id, else the first selected.
  const MethodParams& attention_params() const;

  void set_methods(MethodList m);
  // The comparison sets the app starts from, as templates relative to the model (see
  // resolve_template): the Story on a RoPE model (RoPE breaks beyond L; NTK, YaRN and
  // ReRoPE repair it) and its ALiBi counterpart (NTK-ALiBi a = 8 keeps the twin's keys).
  static constexpr const char* kRopeStory = "rope;ntk:alpha=4;yarn:factor=4;rerope:window={L/2},logn=1";
  static constexpr const char* kAlibiStory = "alibi;alibi-linear:a=8;ntk-alibi:a=8";
  // A method spec with values relative to the model: {L}, {L/2}, {L/4} (the training
  // length) and {n/L} (the context length over it, at least 1) are replaced by numbers.
  static QString resolve_template(const QString& spec, int train_len, int n);
  // Selects `specs` (templates or plain specs); templated ones keep their template.
  // Specs that do not parse or cannot run on the model go to `refused` ("spec: why").
  void set_method_templates(const QStringList& specs, QStringList* refused = nullptr);
  // The template a selected method came from ("" : its values are the user's own).
  QString template_of(int id) const;
  void set_template(int id, const QString& spec);
  // After a change of model, L or n: templated methods are resolved again; a method kept
  // as written whose window meant another fraction of L on the previous model is
  // flagged (flag_of) and listed in the returned text ("" : nothing to say).
  QString rebase_methods(int previous_train_len);
  QString flag_of(int id) const;
  // The methods of `methods` that can run on `c`; those that cannot go to `dropped`.
  // When none can (a RoPE list on an ALiBi model, or the reverse), the model's native
  // method and its position family's comparison set instead (`switched` is set;
  // `templates` then holds the set's templates, one per method).
  static MethodList fit_methods(const MethodList& methods, const ModelConfig& c, MethodList& dropped,
                                bool& switched, QStringList* templates = nullptr);
  // The colour of a selected method in every view and export.
  QColor colour_of(const MethodParams& m) const;
  // Selected and not hidden by its check box: what views draw and export.
  bool is_shown(const MethodParams& m) const;
  void set_hidden(int id, bool hidden);
  bool is_hidden(int id) const { return std::find(hidden_.begin(), hidden_.end(), id) != hidden_.end(); }
  // The longest n that runs: what memory allows, and the open document's length less one
  // (every scored token needs its successor).
  int length_cap() const;
  // Sets n within [2, length_cap()]; true when it had to be capped.
  bool set_length(int n);
  void set_selection(int layer, int head);
  // Coalesced notification: many changes within a few ms produce one `changed`.
  void touch();

 signals:
  void changed();          // methods, length, model or results changed (coalesced)
  void methods_changed();  // immediate: the selection or parameters changed
  void length_changed();
  void token_selected(int token);

 private:
  QTimer coalesce_;
  std::vector<int> ids_;           // per selected method
  std::vector<int> colour_slots_;  // per selected method
  std::vector<int> hidden_;        // ids of selected methods whose check box is off
  std::map<int, QString> templates_;  // id → the template it was resolved from
  std::map<int, QString> flags_;      // id → why its kept value now means something else
  int next_id_ = 0;
};

}  // namespace ls::app

Q_DECLARE_METATYPE(ls::MethodParams)
Q_DECLARE_METATYPE(std::shared_ptr<const ls::app::DocumentSnapshot>)
Q_DECLARE_METATYPE(std::shared_ptr<const ls::app::PplSnapshot>)
Q_DECLARE_METATYPE(std::shared_ptr<const ls::app::AttentionSnapshot>)
Q_DECLARE_METATYPE(std::shared_ptr<const ls::app::SweepSnapshot>)
Q_DECLARE_METATYPE(std::shared_ptr<const ls::app::NbceSnapshot>)
Q_DECLARE_METATYPE(std::shared_ptr<const ls::app::RetrievalSnapshot>)
Q_DECLARE_METATYPE(std::shared_ptr<const ls::app::RetrievalDetailSnapshot>)
Q_DECLARE_METATYPE(std::shared_ptr<const ls::app::TokenAttentionSnapshot>)
Q_DECLARE_METATYPE(std::shared_ptr<const ls::app::AttentionCompareSnapshot>)
