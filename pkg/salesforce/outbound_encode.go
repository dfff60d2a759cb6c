package salesforce

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
)

// SOAP 1.1 fault codes for EncodeFault.
const (
	// FaultClient blames the request: Salesforce's retry will fail the same
	// way until the message or the listener's configuration changes.
	FaultClient = "soapenv:Client"
	// FaultServer blames the listener: a retry may succeed.
	FaultServer = "soapenv:Server"
)

// omAck is the acknowledgement Salesforce expects, byte for byte as its
// documentation shows it. One Ack covers every notification of the message.
const omAck = `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">
 <soapenv:Body>
  <notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack></notificationsResponse>
 </soapenv:Body>
</soapenv:Envelope>
`

// EncodeAck writes the SOAP response that acknowledges a whole outbound
// message. Send it (HTTP 200, text/xml) only once every notification is
// safely stored: Salesforce then drops the message from its queue.
func EncodeAck(w io.Writer) error {
	_, err := io.WriteString(w, omAck)
	return err
}

// EncodeFault writes a SOAP 1.1 Fault with code FaultClient or FaultServer
// and msg as the faultstring. Salesforce keeps the message queued and
// retries it; the faultstring is shown in its outbound message queue.
func EncodeFault(w io.Writer, code, msg string) error {
	if code != FaultClient && code != FaultServer {
		return fmt.Errorf("fault code %q: want %s or %s", code, FaultClient, FaultServer)
	}
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">
 <soapenv:Body>
  <soapenv:Fault>
   <faultcode>`)
	b.WriteString(code)
	b.WriteString("</faultcode>\n   <faultstring>")
	if err := xml.EscapeText(&b, []byte(msg)); err != nil {
		return err
	}
	b.WriteString(`</faultstring>
  </soapenv:Fault>
 </soapenv:Body>
</soapenv:Envelope>
`)
	_, err := w.Write(b.Bytes())
	return err
}
