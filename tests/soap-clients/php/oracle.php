<?php
// PHP's SoapServer as an oracle: it reads a request envelope on stdin, answers it through the
// rpc/encoded WSDL with the answer (or fault) given as JSON, and prints its response, so that
// Flowline's bytes can be compared with those of the reference's kind of server.
//
// SOAP 1.2 faults are not compared: PHP writes the numeric code as env:Value, which SOAP 1.2
// does not allow (it must be env:Sender or env:Receiver); Flowline writes a valid 1.2 fault.
//
// Usage: php oracle.php WSDL_FILE ANSWER_JSON < request.xml
//   ANSWER_JSON: {"response": {"Id": …, "Code": …, …}} or
//                {"fault": {"code": …, "string": …, "actor": …, "detail_code": …}}

[$script, $wsdl, $answer_text] = $argv;
$answer = json_decode($answer_text, true);

final class Oracle {
    public function __construct(private array $answer) {}

    public function __call($operation, $arguments) {
        if (isset($this->answer['fault'])) {
            $fault = $this->answer['fault'];
            $detail = sprintf(
                '<detail><item><key>code</key><value>%d</value></item><item><key>message</key><value>%s</value></item></detail>',
                $fault['detail_code'], htmlspecialchars($fault['string'], ENT_XML1));
            throw new SoapFault($fault['code'], $fault['string'], $fault['actor'] ?? null,
                new SoapVar($detail, XSD_ANYXML));
        }
        return (object) $this->answer['response'];
    }
}

$request = stream_get_contents(STDIN);
$version = str_contains($request, 'http://www.w3.org/2003/05/soap-envelope') ? SOAP_1_2 : SOAP_1_1;
$server = new SoapServer($wsdl, ['soap_version' => $version, 'cache_wsdl' => WSDL_CACHE_NONE]);
$server->setObject(new Oracle($answer));
$server->handle($request);
