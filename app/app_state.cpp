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

std::vector<MethodParams> AppState::fit_methods(const std::vector<MethodParams>& methods, const ModelConfig& c,
                                                QStringList& dropped, bool& switched) {
  std::vector<MethodParams> keep;
  for (const auto& m : methods)
    if (check_method_for_model(m, c)) keep.push_back(m);
    else dropped << QString::fromStdString(method_spec_string(m));
  switched = keep.empty();
  if (!switched) return keep;
  const char* family = arch_alibi(c.arch) ? kAlibiStory : kRopeStory;
  keep.push_back(c.native_method);
  for (const auto& spec : QString(family).split(';'))
    if (auto m = parse_method_spec(spec.toStdString());
        m && check_method_for_model(m.value(), c) && method_spec_string(m.value()) != method_spec_string(keep[0]))
      keep.push_back(m.value());
  return keep;
}

QStringList AppState::method_specs() const {
  QStringList out;
  for (const auto& m : methods) out << QString::fromStdString(method_spec_string(m));
  return out;
}

void AppState::set_methods(std::vector<MethodParams> m) {
  if (m.empty()) m.push_back(MethodParams{});
  for (auto& p : m) attach_model_tables(p, config);
  // Colours follow the method, not its place in the list: a spec seen before keeps
  // its colour; a spec that replaces one at the same place (a parameter edit) takes
  // that one's colour; anything else the first free colour.
  const QStringList old_specs = method_specs();
  const std::vector<int> old_slots = colour_slots_;
  methods = std::move(m);
  const QStringList specs = method_specs();
  colour_slots_.assign(methods.size(), -1);
  std::vector<bool> used(64, false);
  for (int i = 0; i < specs.size(); ++i)
    if (int j = old_specs.indexOf(specs[i]); j >= 0 && j < (int)old_slots.size() && !used[old_slots[j]])
      used[colour_slots_[i] = old_slots[j]] = true;
  for (int i = 0; i < specs.size(); ++i)
    if (colour_slots_[i] < 0 && i < (int)old_slots.size() && !specs.contains(old_specs.value(i)) && !used[old_slots[i]])
      used[colour_slots_[i] = old_slots[i]] = true;
  for (int i = 0; i < specs.size(); ++i)
    if (colour_slots_[i] < 0) {
      int c = 0;
      while (c + 1 < (int)used.size() && used[c]) ++c;
      used[colour_slots_[i] = c] = true;
    }
  emit methods_changed();
  touch();
}

QColor AppState::colour_of(const QString& spec) const {
  const int i = method_specs().indexOf(spec);
  return series_colour(i >= 0 && i < (int)colour_slots_.size() ? colour_slots_[i] : std::max(0, i));
}

bool AppState::is_shown(const QString& spec) const {
  return method_specs().contains(spec) && !hidden_.contains(spec);
}

void AppState::set_hidden(const QString& spec, bool hidden) {
  hidden_.removeAll(spec);
  if (hidden) hidden_ << spec;
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
