// The main window's help and guided starts: Help ▸ Guide and Methods explained (scrolling
// panes), Demos (each README figure in one click) and the walkthrough (the rest of the
// window is main_window.cpp).
#include <QDialogButtonBox>
#include <QScreen>
#include <QTextBrowser>
#include <QTimer>
#include <QVBoxLayout>

#include "app/demos.h"
#include "app/main_window.h"
#include "app/views/retrieval_view.h"
#include "app/views/story_view.h"
#include "core/position/spec.h"

namespace ls::app {

QString guide_html() {
  return QObject::tr(
      "<h3>What LongScope shows</h3>"
      "<p>A language model is trained on windows of at most <b>L</b> tokens. Past L it meets relative positions it never "
      "saw, and plain RoPE's loss climbs. Each context-extension method changes what the model sees there.</p>"
      "<ul>"
      "<li><b>Story</b>: mean loss at each position of the window (averaged over windows), the region beyond L shaded, "
      "and loss against context length. Lower is better.</li>"
      "<li><b>Frequencies</b>: each rotary pair's angle per token, and how many turns it makes across L and across n.</li>"
      "<li><b>Rel. positions</b>: the relative position r(m, j) each method really applies between query m and key j.</li>"
      "<li><b>Attention</b>: where a head looks, for any layer and head.</li>"
      "<li><b>Perplexity</b>: the loss of every token of the document; hover for the token.</li>"
      "<li><b>Token</b>: click a token in the document, a point of the Perplexity chart or of the Story: its loss, "
      "its row of r(m, j) and its attention under every method, and lines to the keys just before it.</li>"
      "<li><b>Loss vs n</b>: mean loss at several context lengths.</li>"
      "<li><b>Retrieval</b>: whether the model can <i>use</i> a far token — a passkey hidden at several depths of "
      "prompts of several lengths, one grid per method (green = found). Click a cell to read its prompt.</li>"
      "<li><b>S2-Attn</b>: LongLoRA's shifted sparse attention, a training-time pattern (not an inference "
      "method), beside the full causal mask.</li>"
      "</ul>"
      "<p><b>Demos</b> (menu) set up the figures the README shows in one click; <b>Help ▸ Walkthrough</b> "
      "tells the Story in three steps.</p>"
      "<p><b>Methods</b> (left): add presets or methods, untick one to hide it, Delete removes it; its parameters are "
      "below. Hover any method for a plain explanation. <b>Context length n</b>: the window the model reads.</p>"
      "<p>Runs happen in the background; the progress bar and Cancel (Esc) are at the bottom right. Results are kept, so "
      "adding a method computes only that one. <b>Export</b> saves what a view shows as PNG, SVG, CSV or JSON.</p>"
      "<p><b>Run ▸ NBCE question answering</b> answers a question from context chunks (Naive Bayes context "
      "extension).</p>");
}

bool MainWindow::run_demo(const QString& id) {
  const Demo* d = find_demo(id);
  if (!d) return false;
  cancel_runs();
  demo_ = id;
  demo_stage_ = DemoStage::Loading;
  const QString res = QString(LONGSCOPE_RESOURCES_DIR) + "/";
  if (state_.model_path != res + d->model || train_len_override_ != 0) open_model(res + d->model);
  if (!state_.document || state_.document->path != res + d->document) open_document(res + d->document);
  message_->setText(tr("Demo: %1 — opening its model and document…").arg(tr(d->title)));
  if (!busy()) QTimer::singleShot(0, this, [this] { continue_demo(); });
  return true;
}

void MainWindow::continue_demo() {
  const Demo* d = find_demo(demo_);
  if (!d) return;
  if (demo_stage_ == DemoStage::Running) {  // done: say what it shows
    demo_.clear();
    message_->setText(tr("Demo ready — the README: %1.").arg(tr(d->readme)));
    return;
  }
  demo_stage_ = DemoStage::Running;
  if (!last_error_.isEmpty() && state_.model_path.isEmpty()) return demo_.clear();  // the model did not load: said
  set_methods(d->methods);
  const int L = state_.config.train_len;
  set_length(d->length_in_l * L);
  show_view(d->view);
  if (d->passkey_grid) {
    retrieval_->set_passkey_grid(QString("%1,%2,%3,%4").arg(L).arg(2 * L).arg(4 * L).arg(8 * L), "0,0.25,0.5,0.75,1", 4);
    run_retrieval();
  }
  run_now();
  if (!busy()) QTimer::singleShot(0, this, [this] { continue_demo(); });
}

QString methods_html() {
  QString html = "<h3>" + QObject::tr("The methods") + "</h3>";
  for (const auto& m : method_registry())
    html += QString("<p><b>%1</b> — %2<br><small>%3</small></p>")
                .arg(QString::fromStdString(m.name), QString::fromStdString(m.explain).toHtmlEscaped(),
                     QString::fromStdString(m.formula).toHtmlEscaped());
  return html;
}

QDialog* MainWindow::show_text(const QString& title, const QString& html) {
  // A scrolling pane sized to the screen (a message box grows past a projector's 720 rows).
  auto* dlg = new QDialog(this);
  dlg->setAttribute(Qt::WA_DeleteOnClose);
  dlg->setObjectName("help_text");
  dlg->setWindowTitle(title);
  auto* lay = new QVBoxLayout(dlg);
  auto* text = new QTextBrowser();
  text->setOpenExternalLinks(true);
  text->setHtml(html);
  lay->addWidget(text, 1);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close);
  connect(buttons, &QDialogButtonBox::rejected, dlg, &QDialog::close);
  lay->addWidget(buttons);
  QRect avail(0, 0, 1280, 720);
  if (const QScreen* scr = screen()) avail = scr->availableGeometry();
  dlg->resize(std::min(720, avail.width() * 9 / 10), std::min(640, avail.height() * 8 / 10));
  dlg->show();
  return dlg;
}

void MainWindow::start_walkthrough() {
  show_view("story");
  story_->start_tour();
}

}  // namespace ls::app
