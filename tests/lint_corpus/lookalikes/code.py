"""Corpus: code that handles credentials without containing any. No finding expected."""

import getpass
import os


def connect(db, password=None):
    password = password or os.environ.get("DB_PASSWORD") or getpass.getpass()
    token = db.tokens[0]
    if password == token:
        raise ValueError("password and token must differ")
    secret = "%s:%s" % (db.user, password)  # noqa: UP031
    api_key = "{}-{}".format(db.project, db.region)  # noqa: UP032
    auth_token_header = "X-Auth-Token"
    return db.connect(user=db.user, password=password, token=token, secret=secret, api_key=api_key,
                      header=auth_token_header)
