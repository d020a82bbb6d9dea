// The main window's files: exporting a view (PNG, SVG, CSV, JSON) and saving or
// loading a session (the rest of the window is main_window.cpp).
#include <QCoreApplication>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QPainter>
#include <QSvgGenerator>

#include "app/main_window.h"
#include "app/method_panel.h"
#include "app/session.h"
#include "core/util/files.h"
#include "core/util/memory.h"
#include "app/views/view.h"

namespace ls::app {

bool MainWindow::export_view(const QString& name, const QString& path) {
  View* v = view(name);
  if (!v) return false;
  v->refresh();
  // Charts lay out their titles and axes on the event loop: let that happen first.
  QCoreApplication::processEvents(QEventLoop::ExcludeUserInputEvents);
  const QString ext = QFileInfo(path).suffix().toLower();
  bool ok = false;
  if (ext == "png") {
    ok = v->export_widget()->grab().save(path, "PNG");
  } else if (ext == "svg") {
    QSvgGenerator gen;
    gen.setFileName(path);
    QWidget* shown = v->export_widget();
    gen.setSize(shown->size());
    gen.setViewBox(shown->rect());
    gen.setTitle("LongScope " + name);
    QPainter p;
    ok = p.begin(&gen);
    if (ok) {
      shown->render(&p);
      ok = p.end();
    }
  } else if (ext == "csv" || ext == "json") {
    QFile f(path);
    ok = f.open(QIODevice::WriteOnly);
    if (ok) ok = f.write(ext == "csv" ? v->data_csv().toUtf8() : QJsonDocument(v->data_json()).toJson()) >= 0;
  }
  if (!ok) show_error(tr("could not export %1 to %2").arg(name, path));
  else message_->setText(tr("Exported %1 to %2").arg(name, path));
  return ok;
}

bool MainWindow::save_session(const QString& path) {
  Session s;
  for (int i = 0; i < tabs_->count(); ++i)
    if (auto* v = qobject_cast<View*>(tabs_->widget(i))) {
      v->refresh();  // a view not shown since the methods changed would name methods no longer selected
      s.views[v->view_name()] = v->view_state();
    }
  for (size_t i = 0; i < state_.methods.size(); ++i) {
    const int id = state_.method_ids()[i];
    s.templates << state_.template_of(id);
    if (state_.is_hidden(id)) s.hidden << AppState::label(state_.methods[i]);
  }
  s.model = model_path_;
  s.train_len_override = train_len_override_;
  s.document = document_path_;
  s.methods = state_.method_labels();
  s.length = state_.length;
  s.layer = state_.layer;
  s.head = state_.head;
  s.current_view = qobject_cast<View*>(tabs_->currentWidget())->view_name();
  QFile f(path);
  if (!f.open(QIODevice::WriteOnly) || f.write(s.to_json()) < 0) {
    show_error(tr("could not write %1").arg(path));
    return false;
  }
  message_->setText(tr("Session saved to %1").arg(path));
  return true;
}

bool MainWindow::load_session(const QString& path) {
  // A regular file of a sane size (a FIFO or a device is refused, never waited on).
  auto text = read_regular_file(path.toStdString(), "session", kMaxConfigJsonBytes);
  if (!text) {
    show_error(QString::fromStdString(text.error()));
    return false;
  }
  auto parsed = Session::from_json(QByteArray::fromStdString(text.value()), path);
  if (!parsed) {
    show_error(QString::fromStdString(parsed.error()));
    return false;
  }
  const Session s = parsed.take();
  if (s.model != model_path_ || s.train_len_override != train_len_override_) open_model(s.model, s.train_len_override);
  if (!s.document.isEmpty()) open_document(s.document);
  // Apply methods, length and view states once the model is in place.
  auto apply = [this, s] {
    // Methods that follow a template take it again (same model: same values); ticks as saved.
    QStringList specs = s.methods;
    for (qsizetype i = 0; i < specs.size() && i < s.templates.size(); ++i)
      if (!s.templates[i].isEmpty()) specs[i] = s.templates[i];
    set_methods(specs);
    for (size_t i = 0; i < state_.methods.size(); ++i)
      state_.set_hidden(state_.method_ids()[i], s.hidden.contains(AppState::label(state_.methods[i])));
    methods_->sync_from_state();
    set_length(s.length);
    set_layer_head(s.layer, s.head);
    for (int i = 0; i < tabs_->count(); ++i)
      if (auto* v = qobject_cast<View*>(tabs_->widget(i))) v->restore_state(s.views[v->view_name()].toObject());
    show_view(s.current_view);
  };
  if (busy()) {
    auto* conn = new QMetaObject::Connection;
    *conn = connect(this, &MainWindow::idle, this, [conn, apply] {
      QObject::disconnect(*conn);
      delete conn;
      apply();
    });
  } else {
    apply();
  }
  return true;
}

}  // namespace ls::app
