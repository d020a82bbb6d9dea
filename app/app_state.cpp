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
  std::vector<MethodParams> story;
  for (const auto& spec : QString(kRopeStory).split(';')) story.push_back(parse_method_spec(spec.toStdString()).value());
  set_methods(story);
}

MethodList AppState::fit_methods(const MethodList& methods, const ModelConfig& c, MethodList& dropped,
                                   bool& switched) {
  MethodList keep;
  for (const auto& m : methods)
    if (check_method_for_model(m, c)) keep.push_back(m);
    else dropped.push_back(m);
  switched = keep.empty();
  if (!switched) return keep;
  const char* family = arch_alibi(c.arch) ? kAlibiStory : kRopeStory;
  keep.push_back(c.native_method);
  for (const auto& spec : QString(family).split(';'))
    if (auto m = parse_method_spec(spec.toStdString()); m && check_method_for_model(m.value(), c) && m.value() != keep[0])
      keep.push_back(m.value());
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

void AppState::set_length(int n) {
  n = std::clamp(n, 2, max_length);
  if (n == length) return;
  length = n;
  emit length_changed();
  touch();
}

void AppState::set_selection(int l, int h) {
  layer = l;
  head = h;
  touch();
}

void AppState::touch() { coalesce_.start(); }

}  // namespace ls::app
