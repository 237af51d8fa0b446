"""What reads environment variables: the settings class, gunicorn's config, and the libraries under them;
and what a secret looks like, so no Azure file sets one."""

import re

from restaurant_shared.settings import Settings
from tests.fixtures.stack import REPO_ROOT


def settings_variables() -> set[str]:
    return {name.upper() for name in Settings.model_fields}


def gunicorn_variables() -> set[str]:
    config = (REPO_ROOT / "services/web/gunicorn.conf.py").read_text()
    return set(re.findall(r"os\.environ\.get\(['\"](\w+)['\"]", config))


# AZURE_CLIENT_ID is also read by azure-identity itself (kombu's DefaultAzureCredential@ broker URL builds its
# credential without arguments); it is a Settings field as well.
LIBRARY_VARIABLES = {"AZURE_CLIENT_ID"}


def web_reads() -> set[str]:
    return settings_variables() | gunicorn_variables() | LIBRARY_VARIABLES


def worker_reads() -> set[str]:
    return settings_variables() | LIBRARY_VARIABLES


# Names and values that would be secrets in an Azure setting (compose.azure.yml, the Bicep templates).
# Application Insights' "connection string" is the exception by name: it only names the resource (its
# instrumentation key is an id), and with local authentication off, ingestion takes the identity's token.
SECRET_VALUE = re.compile(r"AccountKey=|SharedAccessSignature=|[?&]sig=|password=|://[^@/\s]*:[^@/\s]*@", re.I)
SECRET_NAME = re.compile(r"PASSWORD|SECRET|(?<!APPLICATIONINSIGHTS_)CONNECTION_STRING|_KEY$|TOKEN", re.I)
