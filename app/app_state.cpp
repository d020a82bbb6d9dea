#include "app/app_state.h"

#include "app/views/chart_util.h"
#include "core/engine/engine.h"
#include "core/position/spec.h"

namespace ls::app {

AppState::AppState(QObject* parent) : QObject(parent) {
  coalesce_.setSingleShot(true);
  coalesce_.setInterval(15);  // one redraw per burst of changes (e.g. a slider drag)
  connect(&coalesce_, &QTimer::timeout, this, &AppState::changed);
  // The story on the first screen (stories260K, n = 8L).
  config.train_len = 512;  // the bundled model's, until it loads
  set_method_templates(QString(kRopeStory).split(';'));
}

QString AppState::resolve_template(const QString& spec, int L, int n) {
  L = std::max(1, L);
  QString s = spec;
  s.replace("{L/2}", QString::number(std::max(1, L / 2)));
  s.replace("{L/4}", QString::number(std::max(1, L / 4)));
  s.replace("{L}", QString::number(L));
  s.replace("{n/L}", QString::number(std::max(1.0, (double)n / L), 'g', 6));
  return s;
}

void AppState::set_method_templates(const QStringList& specs, QStringList* refused) {
  MethodList ms;
  QStringList kept;
  for (const auto& t : specs) {
    const QString text = resolve_template(t.trimmed(), config.train_len, length);
    auto p = parse_method_spec(text.toStdString());
    if (p) {
      attach_model_tables(p.value(), config);
      if (auto ok = check_method_for_model(p.value(), config); !ok) p = make_error(ok.error());
    }
    if (!p) {
      if (refused) *refused << QString::fromStdString(p.error());
      continue;
    }
    if (std::find(ms.begin(), ms.end(), p.value()) != ms.end()) continue;  // one row per method
    ms.push_back(p.value());
    kept << (text == t.trimmed() ? QString() : t.trimmed());
  }
  if (ms.empty()) return;
  set_methods(ms);
  for (size_t i = 0; i < ids_.size(); ++i) set_template(ids_[i], kept.value((qsizetype)i));
}

QString AppState::template_of(int id) const {
  auto it = templates_.find(id);
  return it == templates_.end() ? QString() : it->second;
}

void AppState::set_template(int id, const QString& spec) {
  flags_.erase(id);  // a fresh choice: nothing to flag
  if (spec.isEmpty()) templates_.erase(id);
  else templates_[id] = spec;
}

QString AppState::flag_of(int id) const {
  auto it = flags_.find(id);
  return it == flags_.end() ? QString() : it->second;
}

namespace {
// w as a fraction of L, as a person says it: "L/2", "L", "4L", "0.37 L".
QString fraction_of_l(double w, int L) {
  if (L <= 0 || w <= 0) return QString::number(w);
  const double r = w / L;
  if (std::abs(r - std::round(r)) < 1e-9) return r == 1 ? QString("L") : QString("%1L").arg((int)std::round(r));
  const double inv = L / w;
  if (std::abs(inv - std::round(inv)) < 1e-9) return QString("L/%1").arg((int)std::round(inv));
  return QString("%1 L").arg(r, 0, 'g', 3);
}
}  // namespace

QString AppState::rebase_methods(int previous_l) {
  MethodList next = methods;
  QStringList said;
  for (size_t i = 0; i < methods.size() && i < ids_.size(); ++i) {
    const QString t = template_of(ids_[i]);
    if (!t.isEmpty()) {
      if (auto p = parse_method_spec(resolve_template(t, config.train_len, length).toStdString())) next[i] = p.value();
      continue;
    }
    const double w = methods[i].remap.window;
    if (w > 0 && previous_l > 0 && previous_l != config.train_len) {
      const QString was = fraction_of_l(w, previous_l), now = fraction_of_l(w, config.train_len);
      if (was == now) continue;
      const QString why = tr("kept as written: its window %1 was %2 of the previous model's L = %3, and is %4 of this "
                             "model's L = %5")
                              .arg(w).arg(was).arg(previous_l).arg(now).arg(config.train_len);
      flags_[ids_[i]] = why;
      said << label(methods[i]) + " " + why;
    }
  }
  if (next != methods) {
    const std::map<int, QString> keep_t = templates_, keep_f = flags_;
    set_methods(next);  // ids follow (same places)
    templates_ = keep_t;
    flags_ = keep_f;
  }
  return said.join("; ");
}

MethodList AppState::fit_methods(const MethodList& methods, const ModelConfig& c, MethodList& dropped,
                                 bool& switched, QStringList* templates) {
  MethodList keep;
  for (const auto& m : methods)
    if (check_method_for_model(m, c)) keep.push_back(m);
    else dropped.push_back(m);
  switched = keep.empty();
  if (!switched) return keep;
  const char* family = arch_alibi(c.arch) ? kAlibiStory : kRopeStory;
  keep.push_back(c.native_method);
  if (templates) *templates = QStringList{QString()};
  for (const auto& t : QString(family).split(';')) {
    const QString spec = resolve_template(t, c.train_len, 4 * c.train_len);
    if (auto m = parse_method_spec(spec.toStdString()); m && check_method_for_model(m.value(), c) && m.value() != keep[0]) {
      keep.push_back(m.value());
      if (templates) *templates << (spec == t ? QString() : t);
    }
  }
  return keep;
}

QString AppState::label(const MethodParams& m) { return QString::fromStdString(method_spec_string(m)); }

QStringList AppState::method_labels() const {
  QStringList out;
  for (const auto& m : methods) out << label(m);
  return out;
}

int AppState::id_of(const MethodParams& m) const {
  for (size_t i = 0; i < methods.size() && i < ids_.size(); ++i)
    if (methods[i] == m) return ids_[i];
  return -1;
}

const MethodParams* AppState::method_by_id(int id) const {
  for (size_t i = 0; i < methods.size() && i < ids_.size(); ++i)
    if (ids_[i] == id) return &methods[i];
  return nullptr;
}

const MethodParams& AppState::attention_params() const {
  static const MethodParams rope;
  if (const MethodParams* m = method_by_id(attention_method)) return *m;
  return methods.empty() ? rope : methods[0];
}

void AppState::set_methods(MethodList m) {
  if (m.empty()) m.push_back(MethodParams{});
  for (auto& p : m) attach_model_tables(p, config);
  // Ids and colours follow the method, not its place in the list: a method seen before
  // keeps its id; one that replaces a method at the same place (a parameter edit) takes
  // that one's id; anything else a new id and the first free colour.
  const MethodList old = std::move(methods);
  const std::vector<int> old_ids = std::move(ids_), old_slots = std::move(colour_slots_);
  methods = std::move(m);
  const size_t n = methods.size();
  ids_.assign(n, -1);
  colour_slots_.assign(n, -1);
  std::vector<bool> taken(old.size(), false);
  auto take = [&](size_t i, size_t j) {
    taken[j] = true;
    ids_[i] = j < old_ids.size() ? old_ids[j] : next_id_++;
    colour_slots_[i] = j < old_slots.size() ? old_slots[j] : -1;
  };
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < old.size(); ++j)
      if (!taken[j] && old[j] == methods[i]) {
        take(i, j);
        break;
      }
  for (size_t i = 0; i < n && i < old.size(); ++i)
    if (ids_[i] < 0 && !taken[i] && std::find(methods.begin(), methods.end(), old[i]) == methods.end()) take(i, i);
  std::vector<bool> used(64, false);
  for (int c : colour_slots_)
    if (c >= 0 && c < (int)used.size()) used[(size_t)c] = true;
  for (size_t i = 0; i < n; ++i) {
    if (ids_[i] < 0) ids_[i] = next_id_++;
    if (colour_slots_[i] < 0) {
      int c = 0;
      while (c + 1 < (int)used.size() && used[(size_t)c]) ++c;
      used[(size_t)(colour_slots_[i] = c)] = true;
    }
  }
  std::erase_if(hidden_, [&](int id) { return std::find(ids_.begin(), ids_.end(), id) == ids_.end(); });
  std::erase_if(templates_, [&](const auto& e) { return std::find(ids_.begin(), ids_.end(), e.first) == ids_.end(); });
  std::erase_if(flags_, [&](const auto& e) { return std::find(ids_.begin(), ids_.end(), e.first) == ids_.end(); });
  emit methods_changed();
  touch();
}

QColor AppState::colour_of(const MethodParams& m) const {
  for (size_t i = 0; i < methods.size() && i < colour_slots_.size(); ++i)
    if (methods[i] == m) return series_colour(colour_slots_[i]);
  return series_colour(0);
}

bool AppState::is_shown(const MethodParams& m) const {
  const int id = id_of(m);
  return id >= 0 && !is_hidden(id);
}

void AppState::set_hidden(int id, bool hidden) {
  std::erase(hidden_, id);
  if (hidden) hidden_.push_back(id);
  touch();
}

int AppState::length_cap() const {
  const int doc = document ? (int)document->tokens.size() - 1 : max_length;
  return std::max(2, std::min(max_length, doc));
}

bool AppState::set_length(int n) {
  const bool capped = n > length_cap();
  n = std::clamp(n, 2, length_cap());
  if (n == length) return capped;
  length = n;
  bool relative = false;  // {n/L} templates follow n
  for (const auto& [id, t] : templates_) relative |= t.contains("{n/L}");
  if (relative) rebase_methods(config.train_len);
  emit length_changed();
  touch();
  return capped;
}

void AppState::set_selection(int l, int h) {
  layer = l;
  head = h;
  touch();
}

void AppState::touch() { coalesce_.start(); }

}  // namespace ls::app
