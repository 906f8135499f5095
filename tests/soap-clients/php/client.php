<?php
// PHP's SoapClient against a Flowline WSDL — the rpc/encoded one (GET /v1/soap?wsdl), as the
// reference's own clients use it, or the document/literal one — in SOAP 1.1 or 1.2: every
// operation, then the faults a client must see.
//
// Usage: php client.php WSDL_URL CONFIG_JSON [1.1|1.2]

if (!extension_loaded('soap')) {
    fwrite(STDERR, "the PHP soap extension is not installed (Debian: apt-get install php-soap)\n");
    exit(2);
}

const SCHEMA = [
    '$schema' => 'http://json-schema.org/draft-04/schema#',
    'type' => 'object',
    'properties' => ['client' => ['type' => 'object', 'properties' => ['name' => ['type' => 'string']]]],
    'required' => ['client'],
];

function b64($value) { return base64_encode(json_encode($value)); }

function check($condition, $what) {
    if (!$condition) { throw new RuntimeException("check failed: $what"); }
}

function call($client, $operation, $input) {
    // rpc/encoded takes the `input` part itself; document/literal the wrapper element's fields.
    $arguments = $GLOBALS['literal'] ? [['input' => $input]] : [$input];
    $result = $client->__soapCall($operation, $arguments);
    // rpc/encoded returns the Result part; document/literal the wrapper holding it.
    $field = $operation . 'Result';
    return isset($result->$field) ? $result->$field : $result;
}

function expect($response, $operation, $code, $message = null) {
    $text = json_encode($response);
    check((string) $response->Code === (string) $code, "$operation: Code $text");
    check($response->Id === ($code === 201 ? 'created' : 'ok'), "$operation: Id $text");
    if ($message !== null) {
        check($response->Message === $message, "$operation: Message $text");
    }
    echo "$operation: {$response->Code} {$response->Message}\n";
    return (string) ($response->Resource ?? '');
}

function detail_code($fault) {
    $items = isset($fault->detail->item) ? $fault->detail->item : [];
    foreach (is_array($items) ? $items : [$items] as $item) {
        if ($item->key === 'code') { return (string) $item->value; }
    }
    return null;
}

function expect_fault($client, $operation, $input, $faultcode, $detail, $message) {
    try {
        $response = call($client, $operation, $input);
    } catch (SoapFault $fault) {
        check($fault->faultstring === $message, "$operation fault: faultstring {$fault->faultstring}");
        $parts = explode(':', $fault->faultcode);
        check(end($parts) === $faultcode, "$operation fault: faultcode {$fault->faultcode}");
        check(detail_code($fault) === (string) $detail, "$operation fault: detail " . json_encode($fault->detail));
        echo "$operation fault: {$fault->faultcode} {$fault->faultstring}\n";
        return;
    }
    throw new RuntimeException("$operation: expected a fault, got " . json_encode($response));
}

[$script, $wsdl, $config_text] = $argv;
$version = $argv[3] ?? '1.1';
$config = json_decode($config_text, true);
$soap12 = $version === '1.2';
$literal = str_contains($wsdl, 'wsdl=literal');
$client = new SoapClient($wsdl, [
    'soap_version' => $soap12 ? SOAP_1_2 : SOAP_1_1,
    'exceptions' => true,
    'trace' => true,
    'cache_wsdl' => WSDL_CACHE_NONE,
]);

try {
    $auth = ['Apikey' => $config['api_key'], 'Appkey' => $config['app_key'], 'Version' => '1'];
    $uuid = $config['uuid'];
    $record = ['client' => ['name' => 'Ada', 'age' => 36]];
    $schema = ['Url' => 'www.example.nl', 'Schema' => b64(SCHEMA), 'DataRecord' => b64($record)];

    expect(call($client, 'insertSchema', ['AuthenticationObject' => $auth, 'SchemaObject' => $schema]),
        'insertSchema', 201, 'Data Schema is created successfully.');
    $got = json_decode(expect(call($client, 'getSchema', ['AuthenticationObject' => $auth]), 'getSchema', 200), true);
    check($got['customer'] === $config['customer'], 'getSchema: ' . json_encode($got));
    expect(call($client, 'updateSchema', ['AuthenticationObject' => $auth, 'SchemaObject' => $schema]),
        'updateSchema', 201);

    $created = json_decode(base64_decode(expect(call($client, 'insertRecord', [
        'AuthenticationObject' => $auth,
        'DataRecordObject' => ['Uuid' => $uuid, 'ExecutionTime' => '', 'Data' => b64($record)],
        'FlowDiagramObject' => ['Flow' => $config['flow']],
    ]), 'insertRecord', 201, 'Data Record is created successfully and it is included in the queue.')), true);
    check($created['uuid'] === $uuid && $created['data_record'] === $record, 'insertRecord: ' . json_encode($created));

    $fetched = json_decode(expect(call($client, 'getRecord', [
        'AuthenticationObject' => $auth, 'DataRecordObject' => ['Uuid' => $uuid]]), 'getRecord', 200), true);
    check($fetched['data_record'] == $record, 'getRecord: ' . json_encode($fetched));

    expect(call($client, 'updateRecord', [
        'AuthenticationObject' => $auth,
        'DataRecordObject' => ['Uuid' => $uuid, 'Data' => b64(['client' => ['name' => 'Ada', 'age' => 37]])]]),
        'updateRecord', 201, 'Data Record is updated successfully.');

    $flow = json_decode(expect(call($client, 'getFlowDiagram', [
        'AuthenticationObject' => $auth, 'FlowDiagramObject' => ['FlowId' => (string) $config['flow_id']]]),
        'getFlowDiagram', 200), true);
    check($flow['flow_name'] === $config['flow'], 'getFlowDiagram: ' . json_encode($flow));

    $paused = call($client, 'changeFlowStatus', [
        'AuthenticationObject' => $auth,
        'FlowDiagramObject' => ['FlowId' => (string) $config['flow_id'], 'Status' => 'paused']]);
    expect($paused, 'changeFlowStatus', 201, 'Flow diagram has been paused successfully');
    check($paused->Error === 'false', "changeFlowStatus: Error {$paused->Error}");
    expect(call($client, 'changeFlowStatus', [
        'AuthenticationObject' => $auth,
        'FlowDiagramObject' => ['FlowId' => (string) $config['flow_id'], 'Status' => 'running']]),
        'changeFlowStatus', 201, 'Flow diagram has been resumed successfully');

    $receipt = json_decode(expect(call($client, 'webhook', [
        'Uri' => $config['webhook_uri'], 'Payload' => json_encode(['client' => ['name' => 'Grace']])]),
        'webhook', 201, 'Webhook response has been saved successfully'), true);
    check(!empty($receipt['data']['uuid']), 'webhook: ' . json_encode($receipt));

    expect(call($client, 'deleteRecord', ['AuthenticationObject' => $auth, 'DataRecordObject' => ['Uuid' => $uuid]]),
        'deleteRecord', 201, 'Data Record is deleted successfully.');
    expect(call($client, 'deleteSchema', ['AuthenticationObject' => $auth]), 'deleteSchema', 200,
        'Schema has been removed successfully');

    // SOAP 1.2 carries no numeric faultcode: env:Sender, with the code in the detail.
    expect_fault($client, 'getRecord', ['AuthenticationObject' => $auth, 'DataRecordObject' => ['Uuid' => $uuid]],
        $soap12 ? 'Sender' : '404', 404, "Data record '$uuid' does not exist");
    expect_fault($client, 'getSchema', ['AuthenticationObject' => array_merge($auth, ['Apikey' => 'not-the-key'])],
        $soap12 ? 'Sender' : '404', 404, 'The credentials are not correct.');
    expect_fault($client, 'getRecord', ['AuthenticationObject' => $auth, 'DataRecordObject' => ['Uuid' => 'not-a-uuid']],
        $soap12 ? 'Sender' : '400', 400, "DataRecordObject/Uuid: 'not-a-uuid' is not a valid UUID");
    echo "all operations and faults checked\n";
} catch (Throwable $error) {
    fwrite(STDERR, $error . "\n\nlast request:\n" . $client->__getLastRequest() . "\nlast response:\n" . $client->__getLastResponse() . "\n");
    exit(1);
}
