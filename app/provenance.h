// What every export carries: the model, the document, n, L, the methods shown, the
// LongScope version, and the longscope-cli commands that compute the same numbers.
#pragma once

#include <QJsonObject>
#include <QString>
#include <QStringList>

namespace ls::app {

struct Provenance {
  QString view;
  QString model, document;
  int length = 0, train_len = 0, train_len_override = 0;
  QStringList methods;   // the methods shown, as specs
  QString version;
  QString created;       // ISO 8601, UTC
  QStringList commands;  // longscope-cli commands that compute what the view shows ("" : none, e.g. S2-Attn)

  QJsonObject to_json() const;
  QString as_comment_lines() const;  // "# key: value" lines for CSV
  QString as_text() const;           // "key: value" lines for PNG text chunks and SVG descriptions
};

// A POSIX shell word: quoted when it needs to be.
QString shell_word(const QString& s);

}  // namespace ls::app
