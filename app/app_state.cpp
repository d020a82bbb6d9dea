#include "app/app_state.h"

#include "core/position/spec.h"

namespace ls::app {

AppState::AppState(QObject* parent) : QObject(parent) {
  coalesce_.setSingleShot(true);
  coalesce_.setInterval(15);  // one redraw per burst of changes (e.g. a slider drag)
  connect(&coalesce_, &QTimer::timeout, this, &AppState::changed);
  methods.push_back(MethodParams{});
}

QStringList AppState::method_specs() const {
  QStringList out;
  for (const auto& m : methods) out << QString::fromStdString(method_spec_string(m));
  return out;
}

void AppState::set_methods(std::vector<MethodParams> m) {
  if (m.empty()) m.push_back(MethodParams{});
  for (auto& p : m) attach_model_tables(p, config);
  methods = std::move(m);
  emit methods_changed();
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
