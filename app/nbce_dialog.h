// NBCE question answering (Naive Bayes-based Context Extension, docs/methods.md §4):
// a question, a context cut into chunks (the open document or pasted text), and
// the answer each selected method gives, side by side.
#pragma once

#include <QDialog>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QTableWidget>
#include <memory>

#include "app/app_state.h"

namespace ls::app {

// Whether an answer contains the expected text (case and surrounding spaces ignored).
bool nbce_answer_found(const QString& answer, const QString& expected);

class NbceDialog : public QDialog {
  Q_OBJECT
 public:
  explicit NbceDialog(QWidget* parent = nullptr);
  QString question() const { return question_->text(); }
  QString context() const { return context_->toPlainText(); }
  int chunks() const { return chunks_->value(); }
  int tokens() const { return tokens_->value(); }
  void show_result(const std::shared_ptr<const NbceSnapshot>& r);
  void set_expected(const QString& text) { expected_->setText(text); }
  void set_busy(bool busy);
  const QTableWidget* table() const { return table_; }

 signals:
  void ask();

 private:
  QLineEdit* question_;
  QPlainTextEdit* context_;
  QSpinBox *chunks_, *tokens_;
  QPushButton* run_;
  QTableWidget* table_;
  QLineEdit* expected_;
  std::shared_ptr<const NbceSnapshot> last_;
};

}  // namespace ls::app
