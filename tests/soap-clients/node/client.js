// The npm `soap` package against the document/literal WSDL (GET /v1/soap?wsdl=literal), in
// SOAP 1.1 or (forceSoap12Headers) SOAP 1.2: every operation, then the faults a client must see.
//
// Usage: node client.js WSDL_URL CONFIG_JSON [1.1|1.2]
'use strict';

const soap = require('soap');

const SCHEMA = {
  $schema: 'http://json-schema.org/draft-04/schema#',
  type: 'object',
  properties: { client: { type: 'object', properties: { name: { type: 'string' } } } },
  required: ['client'],
};

const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64');

function check(condition, what) {
  if (!condition) throw new Error(`check failed: ${what}`);
}

async function call(client, operation, input) {
  const [result] = await client[`${operation}Async`]({ input });
  return result[`${operation}Result`];
}

function expect(response, operation, code, message) {
  check(String(response.Code) === String(code), `${operation}: Code ${JSON.stringify(response)}`);
  check(response.Id === (code === 201 ? 'created' : 'ok'), `${operation}: Id ${JSON.stringify(response)}`);
  if (message !== undefined) {
    check(response.Message === message, `${operation}: Message ${JSON.stringify(response)}`);
  }
  console.log(`${operation}: ${response.Code} ${response.Message}`);
  return response.Resource || '';
}

// The fault's code, string and detail code, in either SOAP version.
function faultOf(error) {
  const fault = error && error.root && error.root.Envelope && error.root.Envelope.Body
    && error.root.Envelope.Body.Fault;
  if (!fault) return null;
  const items = fault.detail ? fault.detail.item : fault.Detail.item;
  const code = [].concat(items).find((item) => item.key === 'code');
  if (fault.faultcode !== undefined) {
    return { code: fault.faultcode, string: fault.faultstring, detail: code && code.value };
  }
  return { code: fault.Code.Value, string: fault.Reason.Text.$value || fault.Reason.Text, detail: code && code.value };
}

async function expectFault(client, operation, input, faultcode, detailCode, message) {
  let response;
  try {
    response = await call(client, operation, input);
  } catch (error) {
    const fault = faultOf(error);
    if (!fault) throw error;
    check(fault.string === message, `${operation} fault: faultstring ${JSON.stringify(fault)}`);
    if (faultcode !== null) {
      check(String(fault.code).split(':').pop() === faultcode, `${operation} fault: faultcode ${JSON.stringify(fault)}`);
    }
    check(String(fault.detail) === String(detailCode), `${operation} fault: detail ${JSON.stringify(fault)}`);
    console.log(`${operation} fault: ${fault.code} ${fault.string}`);
    return;
  }
  throw new Error(`${operation}: expected a fault, got ${JSON.stringify(response)}`);
}

async function main() {
  const [wsdl, configText, version = '1.1'] = process.argv.slice(2);
  const config = JSON.parse(configText);
  const soap12 = version === '1.2';
  const client = await soap.createClientAsync(wsdl, { forceSoap12Headers: soap12 });
  const auth = { Apikey: config.api_key, Appkey: config.app_key, Version: '1' };
  const uuid = config.uuid;
  const record = { client: { name: 'Ada', age: 36 } };
  const schema = { Url: 'www.example.nl', Schema: b64(SCHEMA), DataRecord: b64(record) };

  expect(await call(client, 'insertSchema', { AuthenticationObject: auth, SchemaObject: schema }),
    'insertSchema', 201, 'Data Schema is created successfully.');
  const got = JSON.parse(expect(await call(client, 'getSchema', { AuthenticationObject: auth }), 'getSchema', 200));
  check(got.customer === config.customer, `getSchema: ${JSON.stringify(got)}`);
  expect(await call(client, 'updateSchema', { AuthenticationObject: auth, SchemaObject: schema }), 'updateSchema', 201);

  const created = JSON.parse(Buffer.from(expect(await call(client, 'insertRecord', {
    AuthenticationObject: auth,
    DataRecordObject: { Uuid: uuid, ExecutionTime: '', Data: b64(record) },
    FlowDiagramObject: { Flow: config.flow },
  }), 'insertRecord', 201, 'Data Record is created successfully and it is included in the queue.'), 'base64').toString());
  check(created.uuid === uuid && created.data_record.client.name === 'Ada', `insertRecord: ${JSON.stringify(created)}`);

  const fetched = JSON.parse(expect(await call(client, 'getRecord', {
    AuthenticationObject: auth, DataRecordObject: { Uuid: uuid },
  }), 'getRecord', 200));
  check(fetched.data_record.client.age === 36, `getRecord: ${JSON.stringify(fetched)}`);

  expect(await call(client, 'updateRecord', {
    AuthenticationObject: auth, DataRecordObject: { Uuid: uuid, Data: b64({ client: { name: 'Ada', age: 37 } }) },
  }), 'updateRecord', 201, 'Data Record is updated successfully.');

  const flow = JSON.parse(expect(await call(client, 'getFlowDiagram', {
    AuthenticationObject: auth, FlowDiagramObject: { FlowId: String(config.flow_id) },
  }), 'getFlowDiagram', 200));
  check(flow.flow_name === config.flow, `getFlowDiagram: ${JSON.stringify(flow)}`);

  const paused = await call(client, 'changeFlowStatus', {
    AuthenticationObject: auth, FlowDiagramObject: { FlowId: String(config.flow_id), Status: 'paused' },
  });
  expect(paused, 'changeFlowStatus', 201, 'Flow diagram has been paused successfully');
  check(paused.Error === 'false', `changeFlowStatus: Error ${paused.Error}`);
  expect(await call(client, 'changeFlowStatus', {
    AuthenticationObject: auth, FlowDiagramObject: { FlowId: String(config.flow_id), Status: 'running' },
  }), 'changeFlowStatus', 201, 'Flow diagram has been resumed successfully');

  const receipt = JSON.parse(expect(await call(client, 'webhook', {
    Uri: config.webhook_uri, Payload: JSON.stringify({ client: { name: 'Grace' } }),
  }), 'webhook', 201, 'Webhook response has been saved successfully'));
  check(receipt.data.uuid, `webhook: ${JSON.stringify(receipt)}`);

  expect(await call(client, 'deleteRecord', { AuthenticationObject: auth, DataRecordObject: { Uuid: uuid } }),
    'deleteRecord', 201, 'Data Record is deleted successfully.');
  expect(await call(client, 'deleteSchema', { AuthenticationObject: auth }), 'deleteSchema', 200,
    'Schema has been removed successfully');

  // SOAP 1.2 carries no numeric faultcode: env:Sender, with the code in the detail.
  await expectFault(client, 'getRecord', { AuthenticationObject: auth, DataRecordObject: { Uuid: uuid } },
    soap12 ? 'Sender' : '404', 404, `Data record '${uuid}' does not exist`);
  await expectFault(client, 'getSchema', { AuthenticationObject: { ...auth, Apikey: 'not-the-key' } },
    soap12 ? 'Sender' : '404', 404, 'The credentials are not correct.');
  await expectFault(client, 'getRecord', { AuthenticationObject: auth, DataRecordObject: { Uuid: 'not-a-uuid' } },
    soap12 ? 'Sender' : '400', 400, "DataRecordObject/Uuid: 'not-a-uuid' is not a valid UUID");
  console.log('all operations and faults checked');
}

main().catch((error) => {
  console.error(error && error.stack ? error.stack : error);
  if (error && error.body) console.error(error.body);
  process.exit(1);
});
