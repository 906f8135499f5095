"""zeep against the document/literal WSDL (GET /v1/soap?wsdl=literal).

Usage: zeep_client.py WSDL_URL CONFIG_JSON
"""

import zeep
import zeep.exceptions

import scenario


def detail_code(detail):
    # <detail><item><key>code</key><value>404</value></item>…</detail>
    for item in detail.iter("item") if detail is not None else []:
        if item.findtext("key") == "code":
            return item.findtext("value")
    return None


def adapter(wsdl, config):
    client = zeep.Client(wsdl)

    def call(operation, arguments):
        return getattr(client.service, operation)(input=arguments)

    def fault(error):
        if isinstance(error, zeep.exceptions.Fault):
            return error.code, error.message, detail_code(error.detail)
        return None

    return call, fault


if __name__ == "__main__":
    scenario.main(adapter)
