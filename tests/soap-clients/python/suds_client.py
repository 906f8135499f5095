"""suds (suds-community) against the rpc/encoded WSDL (GET /v1/soap?wsdl).

Usage: suds_client.py WSDL_URL CONFIG_JSON
"""

import suds
import suds.client

import scenario


def detail_code(fault):
    detail = getattr(fault, "detail", None)
    items = getattr(detail, "item", []) if detail is not None else []
    for item in items if isinstance(items, list) else [items]:
        if str(item.key) == "code":
            return str(item.value)
    return None


def adapter(wsdl, config):
    client = suds.client.Client(wsdl, cache=None)

    def call(operation, arguments):
        return getattr(client.service, operation)(arguments)

    def fault(error):
        if isinstance(error, suds.WebFault):
            return str(error.fault.faultcode), str(error.fault.faultstring), detail_code(error.fault)
        return None

    return call, fault


if __name__ == "__main__":
    scenario.main(adapter)
