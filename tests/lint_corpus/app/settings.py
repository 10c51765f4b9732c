"""Corpus (fake values): a settings module with hard-coded credentials, and code that only looks like it."""

import os

SECRET_KEY = "dj4ng0&k3y!9xQz2Lp7#wV"
GITLAB_TOKEN = "glpat-RYC7HZxL3_IiEMOKhrhR"
DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "PASSWORD": "Dj&Pg9!xQ2zL"}}

# look-alikes: names, lookups and calls, not values
password = os.environ["DB_PASSWORD"]
token = get_token()  # noqa: F821
api_key = request.headers.get("X-Api-Key")  # noqa: F821
TOKEN_HEADER = "Authorization"
secret_name = "payments-db"
credentials_path = "/var/run/secrets/credentials.json"
key = "app.kubernetes.io/name"
message = "password: %s" % password  # noqa: UP031
