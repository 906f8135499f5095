"""The scenario every SOAP client runs against a Flowline server: all eleven operations, in an
order where each one's effect is visible to the next, then the faults a client must see.

A client adapter supplies `call(operation, input) -> response` (the Response's fields readable
as attributes) and `fault(exception) -> (faultcode, faultstring, detail_code) or None`.
"""

import base64
import json
import sys

SCHEMA = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "type": "object",
    "properties": {"client": {"type": "object", "properties": {"name": {"type": "string"}}}},
    "required": ["client"],
}


def b64(value):
    return base64.b64encode(json.dumps(value).encode()).decode()


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def expect(response, operation, code, message=None):
    fields = {name: str(getattr(response, name)) for name in ("Id", "Code", "Message", "Error")}
    check(fields["Code"] == str(code), f"{operation}: Code {fields}")
    check(fields["Id"] == ("created" if code == 201 else "ok"), f"{operation}: Id {fields}")
    if message is not None:
        check(fields["Message"] == message, f"{operation}: Message {fields}")
    print(f"{operation}: {fields['Code']} {fields['Message']}", flush=True)
    resource = getattr(response, "Resource")
    return "" if resource is None else str(resource)


def run(call, fault, config):
    auth = {"Apikey": config["api_key"], "Appkey": config["app_key"], "Version": "1"}
    uuid = config["uuid"]
    record = {"client": {"name": "Ada", "age": 36}}
    schema = {"Url": "www.example.nl", "Schema": b64(SCHEMA), "DataRecord": b64(record)}

    expect(call("insertSchema", {"AuthenticationObject": auth, "SchemaObject": schema}),
           "insertSchema", 201, "Data Schema is created successfully.")
    got = json.loads(expect(call("getSchema", {"AuthenticationObject": auth}), "getSchema", 200))
    check(got["customer"] == config["customer"], f"getSchema: {got}")
    expect(call("updateSchema", {"AuthenticationObject": auth, "SchemaObject": schema}),
           "updateSchema", 201)

    created = expect(call("insertRecord", {
        "AuthenticationObject": auth,
        "DataRecordObject": {"Uuid": uuid, "ExecutionTime": "", "Data": b64(record)},
        "FlowDiagramObject": {"Flow": config["flow"]},
    }), "insertRecord", 201, "Data Record is created successfully and it is included in the queue.")
    created = json.loads(base64.b64decode(created))
    check(created["uuid"] == uuid and created["data_record"] == record, f"insertRecord: {created}")

    got = json.loads(expect(call("getRecord", {
        "AuthenticationObject": auth, "DataRecordObject": {"Uuid": uuid}}), "getRecord", 200))
    check(got["data_record"] == record, f"getRecord: {got}")

    replacement = {"client": {"name": "Ada Lovelace", "age": 37}}
    expect(call("updateRecord", {
        "AuthenticationObject": auth,
        "DataRecordObject": {"Uuid": uuid, "Data": b64(replacement)}}),
        "updateRecord", 201, "Data Record is updated successfully.")
    got = json.loads(expect(call("getRecord", {
        "AuthenticationObject": auth, "DataRecordObject": {"Uuid": uuid}}), "getRecord", 200))
    check(got["data_record"] == replacement, f"getRecord after updateRecord: {got}")

    flow = json.loads(expect(call("getFlowDiagram", {
        "AuthenticationObject": auth, "FlowDiagramObject": {"FlowId": str(config["flow_id"])}}),
        "getFlowDiagram", 200))
    check(flow["flow_name"] == config["flow"], f"getFlowDiagram: {flow}")

    paused = call("changeFlowStatus", {
        "AuthenticationObject": auth,
        "FlowDiagramObject": {"FlowId": str(config["flow_id"]), "Status": "paused"}})
    expect(paused, "changeFlowStatus", 201, "Flow diagram has been paused successfully")
    check(str(paused.Error) == "false", f"changeFlowStatus: Error {paused.Error}")
    expect(call("changeFlowStatus", {
        "AuthenticationObject": auth,
        "FlowDiagramObject": {"FlowId": str(config["flow_id"]), "Status": "running"}}),
        "changeFlowStatus", 201, "Flow diagram has been resumed successfully")

    receipt = json.loads(expect(call("webhook", {
        "Uri": config["webhook_uri"], "Payload": json.dumps({"client": {"name": "Grace"}})}),
        "webhook", 201, "Webhook response has been saved successfully"))
    check(receipt["data"]["uuid"], f"webhook: {receipt}")

    expect(call("deleteRecord", {
        "AuthenticationObject": auth, "DataRecordObject": {"Uuid": uuid}}),
        "deleteRecord", 201, "Data Record is deleted successfully.")
    expect(call("deleteSchema", {"AuthenticationObject": auth}), "deleteSchema", 200,
           "Schema has been removed successfully")

    expect_fault(call, fault, "getRecord", {
        "AuthenticationObject": auth, "DataRecordObject": {"Uuid": uuid}},
        "404", 404, f"Data record '{uuid}' does not exist")
    wrong = dict(auth, Apikey="not-the-key")
    expect_fault(call, fault, "getSchema", {"AuthenticationObject": wrong},
                 "404", 404, "The credentials are not correct.")
    expect_fault(call, fault, "getRecord", {
        "AuthenticationObject": auth, "DataRecordObject": {"Uuid": "not-a-uuid"}},
        "400", 400, "DataRecordObject/Uuid: 'not-a-uuid' is not a valid UUID")
    print("all operations and faults checked", flush=True)


def expect_fault(call, fault, operation, arguments, faultcode, detail_code, message):
    try:
        response = call(operation, arguments)
    except Exception as error:  # the client's own fault type
        seen = fault(error)
        if seen is None:
            raise
        code, string, detail = seen
        check(string == message, f"{operation} fault: faultstring {string!r}")
        if faultcode is not None:
            check(code.split(":")[-1] == faultcode, f"{operation} fault: faultcode {code!r}")
        check(str(detail) == str(detail_code), f"{operation} fault: detail code {detail!r}")
        print(f"{operation} fault: {code} {string}", flush=True)
        return
    raise AssertionError(f"{operation}: expected a fault, got {response}")


def main(adapter):
    wsdl, config = sys.argv[1], json.loads(sys.argv[2])
    call, fault = adapter(wsdl, config)
    run(call, fault, config)
