// The main window's files: exporting a view (PNG, SVG, CSV, JSON) and saving or
// loading a session (the rest of the window is main_window.cpp).
#include <QCoreApplication>
#include <QDir>
#include <QTextDocumentFragment>
#include <QDateTime>
#include <QImage>
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
#include "app/views/story_view.h"
#include "app/views/view.h"

namespace ls::app {

Provenance MainWindow::provenance(const QString& view_name) const {
  Provenance p;
  p.view = view_name;
  p.model = model_path_;
  p.document = document_path_;
  p.length = state_.length;
  p.train_len = state_.config.train_len;
  p.train_len_override = train_len_override_;
  p.version = QCoreApplication::applicationVersion().isEmpty() ? QString(LONGSCOPE_VERSION) : QCoreApplication::applicationVersion();
  p.created = QDateTime::currentDateTimeUtc().toString(Qt::ISODate);
  MethodList shown;
  for (const auto& m : state_.methods)
    if (state_.is_shown(m)) shown.push_back(m);
  for (const auto& m : shown) p.methods << AppState::label(m);
  // The longscope-cli commands that compute the same numbers.
  const QString cli = "longscope-cli";
  const QString model = " --model " + shell_word(model_path_) +
                        (train_len_override_ ? QString(" --train-len %1").arg(train_len_override_) : QString());
  const QString text = " --text " + shell_word(document_path_);
  QStringList specs;
  for (const auto& m : shown) specs << AppState::label(m);
  const int scored = std::max(state_.length, kScoredTokens);
  auto ppl = [&] {
    for (const auto& m : shown)
      p.commands << cli + " ppl" + model + text + " --method " + shell_word(AppState::label(m)) +
                        QString(" --ctx %1 --windows %2 --json").arg(state_.length).arg(std::max(1, scored / state_.length));
  };
  auto sweep = [&](const QList<int>& lengths) {
    QStringList ls;
    for (int n : lengths) ls << QString::number(n);
    if (!ls.isEmpty())
      p.commands << cli + " sweep" + model + text + " --methods " + shell_word(specs.join(";")) + " --lengths " +
                        ls.join(",") + QString(" --scored-tokens %1 --json").arg(kScoredTokens);
  };
  if (view_name == "story") {
    ppl();
    sweep(story_lengths());
  } else if (view_name == "perplexity") {
    ppl();
  } else if (view_name == "sweep" && state_.sweep) {
    QList<int> lengths;
    for (const auto& c : state_.sweep->result.cells)
      if (!lengths.contains(c.ctx)) lengths << c.ctx;
    sweep(lengths);
  } else if (view_name == "frequencies") {
    for (const auto& m : shown)
      p.commands << (state_.alibi_model()
                         ? cli + QString(" alibi-slopes --method %1 --heads %2 --train-len %3 --seq-len %4 --json")
                                     .arg(shell_word(AppState::label(m))).arg(state_.config.n_heads).arg(p.train_len).arg(p.length)
                         : cli + QString(" rope-table --method %1 --head-dim %2 --base %3 --train-len %4 --seq-len %5 --json")
                                     .arg(shell_word(AppState::label(m))).arg(state_.config.rot_dim).arg(state_.config.rope_base)
                                     .arg(p.train_len).arg(p.length));
  } else if (view_name == "relpos") {
    for (const auto& m : shown)
      p.commands << cli + QString(" relpos --method %1 --len %2 --train-len %3 --json")
                              .arg(shell_word(AppState::label(m))).arg(std::min(p.length, 4096)).arg(p.train_len);
  } else if (view_name == "attention" && state_.attention) {
    const auto& a = *state_.attention;
    p.commands << cli + " attention" + model + text + " --method " + shell_word(AppState::label(a.method)) +
                      QString(" --ctx %1 --layer %2 --head %3").arg(a.ctx).arg(a.layer).arg(a.head) +
                      (a.map.pooled ? QString(" --pool %1").arg(a.map.pooled) : QString()) + " --json";
  } else if (view_name == "retrieval" && state_.retrieval) {
    const RetrievalOptions& o = state_.retrieval->options;
    QStringList ms, ls, ds;
    for (const auto& m : state_.retrieval->methods) ms << AppState::label(m);
    for (int n : o.lengths) ls << QString::number(n);
    for (double d : o.depths) ds << QString::number(d);
    const QString task = o.task == RetrievalTask::Passkey ? " passkey" : o.task == RetrievalTask::Needle ? " needle" : " longeval --task lines";
    p.commands << cli + task + model + (o.task == RetrievalTask::Needle ? text : QString()) + " --methods " +
                      shell_word(ms.join(";")) + " --lengths " + ls.join(",") +
                      (o.task == RetrievalTask::LongEvalLines ? QString() : " --depths " + ds.join(",")) +
                      QString(" --trials %1 --seed %2 --json").arg(o.seeds).arg(o.seed);
  }
  return p;
}

bool MainWindow::export_view(const QString& name, const QString& path) {
  View* v = view(name);
  if (!v) return false;
  v->refresh();
  // Charts lay out their titles and axes on the event loop: let that happen first.
  QCoreApplication::processEvents(QEventLoop::ExcludeUserInputEvents);
  const QString ext = QFileInfo(path).suffix().toLower();
  bool ok = false;
  const Provenance prov = provenance(name);  // every file says where its numbers come from
  if (ext == "png") {
    QImage img = v->export_widget()->grab().toImage();
    for (const auto& line : prov.as_text().split('\n', Qt::SkipEmptyParts))  // PNG text chunks
      img.setText(line.section(':', 0, 0).trimmed(), img.text(line.section(':', 0, 0).trimmed()).isEmpty()
                                                         ? line.section(':', 1).trimmed()
                                                         : img.text(line.section(':', 0, 0).trimmed()) + "\n" +
                                                               line.section(':', 1).trimmed());
    ok = img.save(path, "PNG");
  } else if (ext == "svg") {
    QSvgGenerator gen;
    gen.setFileName(path);
    QWidget* shown = v->export_widget();
    gen.setSize(shown->size());
    gen.setViewBox(shown->rect());
    gen.setTitle("LongScope " + name);
    gen.setDescription(prov.as_text());
    QPainter p;
    ok = p.begin(&gen);
    if (ok) {
      shown->render(&p);
      ok = p.end();
    }
  } else if (ext == "csv" || ext == "json") {
    QFile f(path);
    ok = f.open(QIODevice::WriteOnly);
    QJsonObject json = v->data_json();
    json["provenance"] = prov.to_json();
    if (ok) ok = f.write(ext == "csv" ? (prov.as_comment_lines() + v->data_csv()).toUtf8() : QJsonDocument(json).toJson()) >= 0;
  }
  if (!ok) show_error(tr("could not export %1 to %2").arg(name, path));
  else message_->setText(tr("Exported %1 to %2").arg(name, path));
  return ok;
}

QStringList MainWindow::export_figure_pack(const QString& dir) {
  QStringList written;
  if (!QDir().mkpath(dir)) {
    show_error(tr("could not create %1").arg(dir));
    return written;
  }
  const QString keep = current_view();
  QString md = "# LongScope figures\n\n";
  const Provenance common = provenance("story");
  md += QString("Model `%1`, document `%2`, n = %3, L = %4, methods %5 — LongScope %6, %7.\n\n")
            .arg(common.model, common.document).arg(common.length).arg(common.train_len)
            .arg(common.methods.join("; "), common.version, common.created);
  QStringList skipped;
  int k = 0;
  for (const ViewRow& row : view_table()) {
    View* v = view(row.name);
    show_view(row.name);  // laid out at its real size, as on screen
    QCoreApplication::processEvents(QEventLoop::ExcludeUserInputEvents);
    if (!v->has_content()) {
      skipped << tr(row.title);
      continue;
    }
    const QString stem = QString("%1-%2").arg(++k, 2, 10, QChar('0')).arg(row.name);
    for (const QString ext : {"png", "svg", "csv", "json"}) {
      const QString f = QDir(dir).filePath(stem + "." + ext);
      if (export_view(row.name, f)) written << f;
    }
    // The caption: what the view shows, in the words the app uses on screen, and how to recompute it.
    QString caption = tr(row.title);
    if (row.name == QString("story")) caption += " — " + QTextDocumentFragment::fromHtml(story_->sentence()).toPlainText();
    md += QString("## %1. %2\n\n![%2](%3.png)\n\n%4\n\nData: [%3.csv](%3.csv), [%3.json](%3.json), vector: [%3.svg](%3.svg).\n")
              .arg(k).arg(tr(row.title), stem, caption);
    const Provenance p = provenance(row.name);
    for (const auto& c : p.commands) md += "\n    " + c + "\n";
    md += "\n";
  }
  if (!skipped.isEmpty()) md += tr("Not computed when the pack was made (no figure): %1.\n").arg(skipped.join(", "));
  QFile f(QDir(dir).filePath("README.md"));
  if (f.open(QIODevice::WriteOnly) && f.write(md.toUtf8()) >= 0) written << f.fileName();
  show_view(keep);
  message_->setText(tr("Figure pack: %1 files in %2").arg(written.size()).arg(dir));
  return written;
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
