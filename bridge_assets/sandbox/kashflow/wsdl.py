"""The emulator's WSDL: the part of KashFlow's SOAP API (namespace `KashFlowAPI`, document/literal, SOAP 1.1)
the bridge uses, served at `<url>/api/service.asmx?WSDL` with the emulator's own address as the service location."""

from __future__ import annotations

NS = "KashFlowAPI"
OPERATIONS = {
    # operation: (request parts beyond UserName/Password, result type or None)
    "InsertCustomer": ([("custr", "tns:Customer")], "s:int"),
    "GetCustomer": ([("CustomerCode", "s:string")], "tns:Customer"),
    "InsertInvoice": ([("Inv", "tns:Invoice")], "s:int"),
    "UpdateInvoice": ([("Inv", "tns:Invoice")], "s:boolean"),
    "GetInvoice": ([("InvoiceNumber", "s:int")], "tns:Invoice"),
    "DeleteInvoice": ([("InvoiceNumber", "s:int")], None),
}

_TYPES = """
      <s:complexType name="Customer"><s:sequence>
        <s:element minOccurs="1" maxOccurs="1" name="CustomerID" type="s:int"/>
        <s:element minOccurs="0" maxOccurs="1" name="Code" type="s:string"/>
        <s:element minOccurs="0" maxOccurs="1" name="Name" type="s:string"/>
      </s:sequence></s:complexType>
      <s:complexType name="InvoiceLine"><s:sequence>
        <s:element minOccurs="1" maxOccurs="1" name="Quantity" type="s:decimal"/>
        <s:element minOccurs="0" maxOccurs="1" name="Description" type="s:string"/>
        <s:element minOccurs="1" maxOccurs="1" name="Rate" type="s:decimal"/>
        <s:element minOccurs="1" maxOccurs="1" name="ChargeType" type="s:int"/>
        <s:element minOccurs="1" maxOccurs="1" name="VatAmount" type="s:decimal"/>
        <s:element minOccurs="1" maxOccurs="1" name="VatRate" type="s:decimal"/>
        <s:element minOccurs="1" maxOccurs="1" name="Sort" type="s:int"/>
        <s:element minOccurs="1" maxOccurs="1" name="ProductID" type="s:int"/>
      </s:sequence></s:complexType>
      <s:complexType name="ArrayOfInvoiceLine"><s:sequence>
        <s:element minOccurs="0" maxOccurs="unbounded" name="InvoiceLine" type="tns:InvoiceLine"/>
      </s:sequence></s:complexType>
      <s:complexType name="Invoice"><s:sequence>
        <s:element minOccurs="1" maxOccurs="1" name="InvoiceDBID" type="s:int"/>
        <s:element minOccurs="1" maxOccurs="1" name="InvoiceNumber" type="s:int"/>
        <s:element minOccurs="1" maxOccurs="1" name="InvoiceDate" type="s:dateTime"/>
        <s:element minOccurs="1" maxOccurs="1" name="DueDate" type="s:dateTime"/>
        <s:element minOccurs="1" maxOccurs="1" name="CustomerID" type="s:int"/>
        <s:element minOccurs="0" maxOccurs="1" name="CustomerReference" type="s:string"/>
        <s:element minOccurs="1" maxOccurs="1" name="NetAmount" type="s:decimal"/>
        <s:element minOccurs="1" maxOccurs="1" name="VatAmount" type="s:decimal"/>
        <s:element minOccurs="1" maxOccurs="1" name="AmountPaid" type="s:decimal"/>
        <s:element minOccurs="0" maxOccurs="1" name="Lines" type="tns:ArrayOfInvoiceLine"/>
      </s:sequence></s:complexType>"""


def _element(operation: str, parts: list[tuple[str, str]], result: str | None) -> str:
    fields = "".join(f'<s:element minOccurs="0" maxOccurs="1" name="{name}" type="{kind}"/>'
                     for name, kind in [("UserName", "s:string"), ("Password", "s:string"), *parts])
    answer = (f'<s:element minOccurs="0" maxOccurs="1" name="{operation}Result" type="{result}"/>' if result else "")
    return (f'<s:element name="{operation}"><s:complexType><s:sequence>{fields}</s:sequence></s:complexType></s:element>'
            f'<s:element name="{operation}Response"><s:complexType><s:sequence>{answer}'
            f'<s:element minOccurs="0" maxOccurs="1" name="Status" type="s:string"/>'
            f'<s:element minOccurs="0" maxOccurs="1" name="StatusDetail" type="s:string"/>'
            f'</s:sequence></s:complexType></s:element>')


def wsdl(location: str) -> str:
    elements = "".join(_element(op, parts, result) for op, (parts, result) in OPERATIONS.items())
    messages = "".join(f'<wsdl:message name="{op}SoapIn"><wsdl:part name="parameters" element="tns:{op}"/></wsdl:message>'
                       f'<wsdl:message name="{op}SoapOut"><wsdl:part name="parameters" element="tns:{op}Response"/>'
                       f'</wsdl:message>' for op in OPERATIONS)
    port_ops = "".join(f'<wsdl:operation name="{op}"><wsdl:input message="tns:{op}SoapIn"/>'
                       f'<wsdl:output message="tns:{op}SoapOut"/></wsdl:operation>' for op in OPERATIONS)
    binding_ops = "".join(f'<wsdl:operation name="{op}"><soap:operation soapAction="{NS}/{op}" style="document"/>'
                          f'<wsdl:input><soap:body use="literal"/></wsdl:input>'
                          f'<wsdl:output><soap:body use="literal"/></wsdl:output></wsdl:operation>' for op in OPERATIONS)
    return f"""<?xml version="1.0" encoding="utf-8"?>
<wsdl:definitions xmlns:s="http://www.w3.org/2001/XMLSchema" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
    xmlns:tns="{NS}" xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" targetNamespace="{NS}">
  <wsdl:types><s:schema elementFormDefault="qualified" targetNamespace="{NS}">{_TYPES}{elements}</s:schema></wsdl:types>
  {messages}
  <wsdl:portType name="KashFlowAPISoap">{port_ops}</wsdl:portType>
  <wsdl:binding name="KashFlowAPISoap" type="tns:KashFlowAPISoap">
    <soap:binding transport="http://schemas.xmlsoap.org/soap/http"/>{binding_ops}
  </wsdl:binding>
  <wsdl:service name="KashFlowAPI"><wsdl:port name="KashFlowAPISoap" binding="tns:KashFlowAPISoap">
    <soap:address location="{location}"/></wsdl:port></wsdl:service>
</wsdl:definitions>"""
