#include "app/provenance.h"

#include <QJsonArray>
#include <QRegularExpression>

namespace ls::app {

QString shell_word(const QString& s) {
  static const QRegularExpression plain("^[A-Za-z0-9_./:=,+@%-]+$");
  if (plain.match(s).hasMatch()) return s;
  QString q = s;
  q.replace("'", "'\\''");
  return "'" + q + "'";
}

QJsonObject Provenance::to_json() const {
  QJsonArray ms, cmds;
  for (const auto& m : methods) ms << m;
  for (const auto& c : commands) cmds << c;
  return {{"view", view},           {"model", model},       {"document", document},
          {"n", length},            {"train_len", train_len}, {"train_len_override", train_len_override},
          {"methods", ms},          {"software", "LongScope " + version}, {"created", created},
          {"cli", cmds}};
}

QString Provenance::as_text() const {
  QString out = QString("view: %1\nmodel: %2\ndocument: %3\nn: %4\nL: %5%6\nmethods: %7\nsoftware: LongScope %8\ncreated: %9\n")
                    .arg(view, model, document)
                    .arg(length)
                    .arg(train_len)
                    .arg(train_len_override ? " (set by the user)" : "")
                    .arg(methods.join("; "), version, created);
  for (const auto& c : commands) out += "cli: " + c + "\n";
  return out;
}

QString Provenance::as_comment_lines() const {
  QString out;
  for (const auto& line : as_text().split('\n', Qt::SkipEmptyParts)) out += "# " + line + "\n";
  return out;
}

}  // namespace ls::app
