package salesforce

import (
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestCDCBitmapBits(t *testing.T) {
	for _, tc := range []struct {
		hex  string
		bits []int
		err  string
	}{
		{hex: "1", bits: []int{0}},
		{hex: "2", bits: []int{1}},
		{hex: "8", bits: []int{3}},
		{hex: "10", bits: []int{4}},
		{hex: "0", bits: nil},
		{hex: "00000000", bits: nil},
		{hex: "F", bits: []int{0, 1, 2, 3}},
		{hex: "ff", bits: []int{0, 1, 2, 3, 4, 5, 6, 7}},
		// Salesforce's documented example: 0x650004E0 is
		// 0110 0101 0000 0000 0000 0100 1110 0000 (bit 31 … bit 0).
		{hex: "650004E0", bits: []int{5, 6, 7, 10, 24, 26, 29, 30}},
		{hex: "650004e0", bits: []int{5, 6, 7, 10, 24, 26, 29, 30}},
		// Leading zeros do not move the bits: the number is read from its last digit.
		{hex: "000004E0", bits: []int{5, 6, 7, 10}},
		// Past 32 bits, and an odd number of digits.
		{hex: "200009830", bits: []int{4, 5, 11, 12, 15, 33}},
		{hex: "100000000000000000", bits: []int{68}},
		{hex: "", err: "no hexadecimal digits after 0x"},
		{hex: "12z4", err: `'z' is not a hexadecimal digit`},
	} {
		bits, err := cdcBitmapBits(tc.hex)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("%q: error %v, want %q", tc.hex, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(bits, tc.bits) {
			t.Errorf("%q: bits %v (%v), want %v", tc.hex, bits, err, tc.bits)
		}
	}
}

func TestParseCDCSchema(t *testing.T) {
	s := cdcTestSchema(t)
	if s.Name != "com.sforce.eventbus.UserChangeEvent" || len(s.Fields) != 35 {
		t.Fatalf("schema %s with %d fields, want com.sforce.eventbus.UserChangeEvent with 35", s.Name, len(s.Fields))
	}
	for pos, want := range map[int]CDCSchemaField{
		0:  {Name: "ChangeEventHeader", Subfields: []string{"entityName", "recordIds", "changeType", "changeOrigin", "transactionKey", "sequenceNumber", "commitTimestamp", "commitNumber", "commitUser", "nulledFields", "diffFields", "changedFields"}},
		1:  {Name: "Username"},
		4:  {Name: "Name", Subfields: []string{"Salutation", "FirstName", "LastName", "MiddleName", "InformalName", "Suffix"}},
		5:  {Name: "Alias"},
		15: {Name: "LastModifiedDate"},
		17: {Name: "Address", Subfields: []string{"Street", "City", "State", "PostalCode", "Country"}},
		33: {Name: "NVMContactWorld__NVM_Agent_Id__c"},
		34: {Name: "AboutMe"},
	} {
		got := s.Fields[pos]
		if got.Name != want.Name || !slices.Equal(got.Subfields, want.Subfields) {
			t.Errorf("field %d = %+v, want %+v", pos, got, want)
		}
	}

	t.Run("named type references and GetSchema's wrapper", func(t *testing.T) {
		schema := `{"type":"record","name":"ContactChangeEvent","namespace":"com.sforce.eventbus","fields":[
			{"name":"ChangeEventHeader","type":"string"},
			{"name":"MailingAddress","type":["null",{"type":"record","name":"Address","fields":[{"name":"Street","type":["null","string"]},{"name":"City","type":["null","string"]}]}]},
			{"name":"OtherAddress","type":["null","Address"]},
			{"name":"ShippingAddress","type":["null","com.sforce.eventbus.Address"]},
			{"name":"Name","type":["null","string",{"type":"record","name":"Switchable_PersonName","fields":[{"name":"FirstName","type":["null","string"]},{"name":"LastName","type":["null","string"]}]}]}]}`
		for _, doc := range []string{schema, `{"schemaJson":` + strconv.Quote(schema) + `}`, `{"schema_json":` + strconv.Quote(schema) + `}`} {
			s, err := ParseCDCSchema([]byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range s.Fields {
				got = append(got, f.Name+"("+strings.Join(f.Subfields, ",")+")")
			}
			want := []string{"ChangeEventHeader()", "MailingAddress(Street,City)", "OtherAddress(Street,City)", "ShippingAddress(Street,City)", "Name(FirstName,LastName)"}
			if !slices.Equal(got, want) {
				t.Errorf("fields %q, want %q", got, want)
			}
		}
	})

	for _, tc := range []struct{ doc, err string }{
		{`{"type":"record"`, "avro schema: not valid JSON"},
		{`["null","string"]`, "avro schema: want a record schema"},
		{`{"type":"enum","name":"X","symbols":["A"]}`, "avro schema: want a record schema"},
		{`{"type":"record","fields":[]}`, "avro schema: record without a name"},
		{`{"type":"record","name":"E","fields":[]}`, "avro schema: record E has no fields"},
		{`{"type":"record","name":"E","fields":[{"type":"string"}]}`, "avro schema: record E: field 0 has no name"},
		{`{"type":"record","name":"E","fields":[{"name":"A"}]}`, "avro schema: record E: field 0 (A): no type"},
	} {
		if _, err := ParseCDCSchema([]byte(tc.doc)); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: error %v, want %q", tc.doc, err, tc.err)
		}
	}
}

func TestCDCSchemaFieldNames(t *testing.T) {
	s := cdcTestSchema(t)
	for _, tc := range []struct {
		name string
		list []string
		want []string
		err  string
	}{
		{name: "empty", list: nil, want: nil},
		{name: "documented example", list: []string{"0x650004E0"},
			want: []string{"Alias", "Email", "IsActive", "ProfileId", "ManagerId", "LocaleSidKey", "CommunityNickname", "SenderEmail"}},
		{name: "bit 0 is the first field", list: []string{"0x1"}, want: []string{"ChangeEventHeader"}},
		{name: "a subfield of Name", list: []string{"0x10", "4-0x4"}, want: []string{"Name", "Name.LastName"}},
		{name: "several subfields", list: []string{"4-0x6"}, want: []string{"Name.FirstName", "Name.LastName"}},
		{name: "two compound fields", list: []string{"0x8020", "4-0x2", "17-0x3"}, want: []string{"Alias", "LastModifiedDate", "Name.FirstName", "Address.Street", "Address.City"}},
		{name: "past 32 bits", list: []string{"0x200000000"}, want: []string{"NVMContactWorld__NVM_Agent_Id__c"}},
		{name: "the last field", list: []string{"0X400000000"}, want: []string{"AboutMe"}},
		{name: "names stay names", list: []string{"Alias", "Name.FirstName"}, want: []string{"Alias", "Name.FirstName"}},
		{name: "past the schema", list: []string{"0x800000000"}, err: `"0x800000000": bit 35 is set but schema com.sforce.eventbus.UserChangeEvent has 35 fields (is it the schema of this event?)`},
		{name: "past the subfields", list: []string{"4-0x40"}, err: `"4-0x40": bit 6 is set but compound field Name has 6 subfields`},
		{name: "not compound", list: []string{"5-0x1"}, err: `"5-0x1": field 5 (Alias) is not a compound field`},
		{name: "parent past the schema", list: []string{"40-0x1"}, err: `"40-0x1": position 40 is past the 35 fields`},
		{name: "malformed nested", list: []string{"4-10"}, err: `"4-10": not a bitmap`},
		{name: "malformed position", list: []string{"4x-0x1"}, err: `"4x-0x1": not a bitmap`},
		{name: "no digits", list: []string{"0x"}, err: `"0x": no hexadecimal digits after 0x`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.FieldNames(tc.list)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("FieldNames(%q) = %q, %v; want %q", tc.list, got, err, tc.want)
			}
		})
	}

	var none *CDCSchema
	if got, err := none.FieldNames([]string{"Alias"}); err != nil || !slices.Equal(got, []string{"Alias"}) {
		t.Errorf("names without a schema: %q, %v", got, err)
	}
	if _, err := none.FieldNames([]string{"0x20"}); err == nil || !strings.Contains(err.Error(), "needs the event's Avro schema") {
		t.Errorf("bitmap without a schema: %v", err)
	}
}
