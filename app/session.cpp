#include "app/session.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonParseError>

namespace ls::app {

QByteArray Session::to_json() const {
  QJsonArray specs, temps, hide;
  for (const auto& s : methods) specs << s;
  for (const auto& s : templates) temps << s;
  for (const auto& s : hidden) hide << s;
  const QJsonObject o{{"longscope_session", 1}, {"model", model},     {"train_len_override", train_len_override},
                      {"document", document},   {"methods", specs},   {"length", length},
                      {"layer", layer},         {"head", head},       {"current_view", current_view},
                      {"views", views},         {"templates", temps}, {"hidden", hide}};
  return QJsonDocument(o).toJson();
}

Result<Session> Session::from_json(const QByteArray& bytes, const QString& path) {
  QJsonParseError err;
  const QJsonDocument d = QJsonDocument::fromJson(bytes, &err);  // Qt's parser limits the nesting
  if (d.isNull() || !d.object().contains("longscope_session"))
    return make_error(QString("%1 is not a LongScope session (%2)").arg(path, err.errorString()).toStdString());
  const QJsonObject o = d.object();
  Session s;
  s.model = o["model"].toString();
  s.train_len_override = o["train_len_override"].toInt();
  s.document = o["document"].toString();
  for (const auto& m : o["methods"].toArray()) s.methods << m.toString();
  for (const auto& m : o["templates"].toArray()) s.templates << m.toString();
  for (const auto& m : o["hidden"].toArray()) s.hidden << m.toString();
  s.length = o["length"].toInt(4096);
  s.layer = o["layer"].toInt();
  s.head = o["head"].toInt();
  s.current_view = o["current_view"].toString("story");
  s.views = o["views"].toObject();
  return s;
}

}  // namespace ls::app
