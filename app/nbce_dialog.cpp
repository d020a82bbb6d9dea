#include "app/nbce_dialog.h"

#include <QFormLayout>
#include <QHeaderView>
#include <QLabel>
#include <QVBoxLayout>

#include "app/views/chart_util.h"

namespace ls::app {

NbceDialog::NbceDialog(QWidget* parent) : QDialog(parent) {
  setWindowTitle(tr("NBCE question answering"));
  auto* lay = new QVBoxLayout(this);
  lay->addWidget(fluid(new QLabel(
      tr("NBCE reads a long context as several short chunks, each within the training length, and at every step "
         "takes the most confident chunk's prediction, sharpened against the question alone (Su Jianlin, \"NBCE: "
         "Naive Bayes-based Context Extension\", 2023). Each selected method is used inside the chunks."))));
  auto* form = new QFormLayout();
  question_ = new QLineEdit(tr("Once upon a time, there was a little girl named"));
  context_ = new QPlainTextEdit();
  context_->setPlaceholderText(tr("Leave empty to use the open document."));
  context_->setMaximumHeight(120);
  chunks_ = new QSpinBox();
  chunks_->setRange(1, 64);
  chunks_->setValue(4);
  tokens_ = new QSpinBox();
  tokens_->setRange(1, 512);
  tokens_->setValue(32);
  form->addRow(tr("Question"), question_);
  form->addRow(tr("Context"), context_);
  form->addRow(tr("Chunks"), chunks_);
  form->addRow(tr("Answer tokens"), tokens_);
  expected_ = new QLineEdit();
  expected_->setPlaceholderText(tr("optional: scores each answer (found or not)"));
  expected_->setToolTip(tr("An answer is scored found when it contains this text (case and surrounding spaces ignored)."));
  form->addRow(tr("Expected answer"), expected_);
  connect(expected_, &QLineEdit::textChanged, this, [this] {
    if (last_) show_result(last_);
  });
  lay->addLayout(form);
  run_ = new QPushButton(tr("Answer with every selected method"));
  lay->addWidget(run_);
  table_ = new QTableWidget(0, 3);
  table_->setHorizontalHeaderLabels({tr("method"), tr("answer"), tr("found")});
  table_->horizontalHeader()->setSectionResizeMode(1, QHeaderView::Stretch);
  table_->verticalHeader()->hide();
  table_->setWordWrap(true);
  lay->addWidget(table_, 1);
  connect(run_, &QPushButton::clicked, this, &NbceDialog::ask);
  resize(720, 480);
}

void NbceDialog::set_busy(bool busy) {
  run_->setEnabled(!busy);
  run_->setText(busy ? tr("Answering…") : tr("Answer with every selected method"));
}

bool nbce_answer_found(const QString& answer, const QString& expected) {
  const QString e = expected.simplified();
  return !e.isEmpty() && answer.simplified().contains(e, Qt::CaseInsensitive);
}

void NbceDialog::show_result(const std::shared_ptr<const NbceSnapshot>& r) {
  last_ = r;
  const bool scoring = !expected_->text().trimmed().isEmpty();
  int found = 0;
  table_->setRowCount((int)r->methods.size());
  for (int i = 0; i < (int)r->methods.size(); ++i) {
    table_->setItem(i, 0, new QTableWidgetItem(AppState::label(r->methods[i])));
    auto* a = new QTableWidgetItem(r->answers[i]);
    QStringList picks;
    for (int k : r->chosen_chunk[i]) picks << QString::number(k);
    a->setToolTip(tr("chunk chosen at each step: %1").arg(picks.join(" ")));
    table_->setItem(i, 1, a);
    const bool hit = nbce_answer_found(r->answers[i], expected_->text());
    found += hit;
    table_->setItem(i, 2, new QTableWidgetItem(!scoring ? QString("—") : hit ? tr("✓ found") : tr("✗ not found")));
  }
  table_->setToolTip(scoring ? tr("%1 of %2 methods found “%3”").arg(found).arg(r->methods.size()).arg(expected_->text().simplified())
                             : QString());
  table_->resizeRowsToContents();
  set_busy(false);
}

}  // namespace ls::app
