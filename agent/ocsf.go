package agent

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/bpfnetstat/bpfnetstat/conn"
	"github.com/bpfnetstat/bpfnetstat/output"
)

// OCSF Network Activity (class 4001, category 4 "Network Activity") as of
// OCSF 1.x; docs/ocsf.md documents the mapping field by field.
const (
	ocsfVersion        = "1.1.0"
	ocsfClassUID       = 4001
	ocsfCategoryUID    = 4
	ocsfActivityOpen   = 1
	ocsfActivityClose  = 2
	ocsfActivityReset  = 3
	ocsfActivityFail   = 4
	ocsfActivityRefuse = 5
	ocsfStatusSuccess  = 1
	ocsfStatusFailure  = 2
	ocsfDirInbound     = 1
	ocsfDirOutbound    = 2
	ocsfDirUnknown     = 0
)

// OCSFActivity maps a finished connection to its OCSF activity: Close for
// a normal end, Refuse for a refused connect, Reset for a reset or abort
// on either side, Fail for every other failure (timeout, unreachable,
// never accepted, abandoned while connecting).
func OCSFActivity(c *conn.Conn) (id int, name string) {
	switch c.Failure() {
	case "":
		return ocsfActivityClose, "Close"
	case conn.FailRefused:
		return ocsfActivityRefuse, "Refuse"
	case conn.FailReset, conn.FailAborted:
		return ocsfActivityReset, "Reset"
	}
	return ocsfActivityFail, "Fail"
}

type ocsfEndpoint struct {
	IP   string `json:"ip"`
	Port uint16 `json:"port"`
}

type ocsfUser struct {
	UID string `json:"uid"`
}

type ocsfProcess struct {
	PID  uint32   `json:"pid"`
	Name string   `json:"name"`
	User ocsfUser `json:"user"`
}

type ocsfActor struct {
	Process ocsfProcess `json:"process"`
}

type ocsfConnInfo struct {
	ProtocolNum   int    `json:"protocol_num"`
	ProtocolName  string `json:"protocol_name"`
	ProtocolVer   string `json:"protocol_ver"`
	ProtocolVerID int    `json:"protocol_ver_id"`
	Direction     string `json:"direction"`
	DirectionID   int    `json:"direction_id"`
	UID           string `json:"uid"`
}

type ocsfTraffic struct {
	BytesIn  uint64 `json:"bytes_in"`
	BytesOut uint64 `json:"bytes_out"`
	Bytes    uint64 `json:"bytes"`
}

type ocsfProduct struct {
	Name       string `json:"name"`
	VendorName string `json:"vendor_name"`
}

type ocsfMetadata struct {
	Version string      `json:"version"`
	Product ocsfProduct `json:"product"`
}

type ocsfDevice struct {
	Hostname string `json:"hostname,omitempty"`
	TypeID   int    `json:"type_id"`
}

// OCSFRecord is one OCSF Network Activity event.
type OCSFRecord struct {
	ClassUID     int          `json:"class_uid"`
	ClassName    string       `json:"class_name"`
	CategoryUID  int          `json:"category_uid"`
	CategoryName string       `json:"category_name"`
	ActivityID   int          `json:"activity_id"`
	ActivityName string       `json:"activity_name"`
	TypeUID      int          `json:"type_uid"`
	SeverityID   int          `json:"severity_id"`
	StatusID     int          `json:"status_id"`
	Status       string       `json:"status"`
	StatusDetail string       `json:"status_detail,omitempty"`
	StatusCode   string       `json:"status_code,omitempty"`
	Time         int64        `json:"time"`
	StartTime    int64        `json:"start_time,omitempty"`
	EndTime      int64        `json:"end_time"`
	Duration     int64        `json:"duration"`
	Metadata     ocsfMetadata `json:"metadata"`
	Device       ocsfDevice   `json:"device"`
	SrcEndpoint  ocsfEndpoint `json:"src_endpoint"`
	DstEndpoint  ocsfEndpoint `json:"dst_endpoint"`
	ConnInfo     ocsfConnInfo `json:"connection_info"`
	Traffic      ocsfTraffic  `json:"traffic"`
	Actor        ocsfActor    `json:"actor"`
	// Unmapped holds what OCSF has no attribute for: bpfnetstat's own
	// names, so a consumer can join with life's records.
	Unmapped map[string]any `json:"unmapped"`
}

type ocsfEncoder struct {
	wallOffsetNs int64
	host         string
}

func (e *ocsfEncoder) ms(monoNs uint64) int64 {
	return time.Unix(0, int64(monoNs)+e.wallOffsetNs).UnixMilli()
}

// Record maps a finished connection to its OCSF record.
func (e *ocsfEncoder) Record(c *conn.Conn) OCSFRecord {
	act, actName := OCSFActivity(c)
	local := ocsfEndpoint{IP: c.Local.Addr().Unmap().String(), Port: c.Local.Port()}
	remote := ocsfEndpoint{IP: c.Remote.Addr().Unmap().String(), Port: c.Remote.Port()}
	r := OCSFRecord{
		ClassUID: ocsfClassUID, ClassName: "Network Activity",
		CategoryUID: ocsfCategoryUID, CategoryName: "Network Activity",
		ActivityID: act, ActivityName: actName, TypeUID: ocsfClassUID*100 + act,
		SeverityID: 1, StatusID: ocsfStatusSuccess, Status: "Success",
		Time: e.ms(c.CloseNs), EndTime: e.ms(c.CloseNs), Duration: int64(c.DurationNs(c.CloseNs) / 1e6),
		Metadata: ocsfMetadata{Version: ocsfVersion, Product: ocsfProduct{Name: "bpfnetstat", VendorName: "bpfnetstat"}},
		Device:   ocsfDevice{Hostname: e.host, TypeID: 1},
		ConnInfo: ocsfConnInfo{ProtocolNum: 6, ProtocolName: "tcp", UID: uintText(c.Cookie)},
		Traffic:  ocsfTraffic{BytesIn: c.RxBytes, BytesOut: c.TxBytes, Bytes: c.RxBytes + c.TxBytes},
		Actor: ocsfActor{Process: ocsfProcess{PID: c.Owner.PID, Name: output.Escape(c.Owner.Comm),
			User: ocsfUser{UID: uintText(uint64(c.Owner.UID))}}},
		Unmapped: map[string]any{"owner_source": c.OwnerSource.String(), "netns": c.NetNS, "direction": c.Direction.String(),
			"retransmits": c.Retransmits, "srtt_us": c.SRTTus},
	}
	if c.BirthNs != 0 {
		r.StartTime = e.ms(c.BirthNs)
	}
	if c.Family.String() == "inet6" {
		r.ConnInfo.ProtocolVer, r.ConnInfo.ProtocolVerID = "Internet Protocol version 6 (IPv6)", 6
	} else {
		r.ConnInfo.ProtocolVer, r.ConnInfo.ProtocolVerID = "Internet Protocol version 4 (IPv4)", 4
	}
	// src is the initiator, dst the responder.
	switch c.Direction {
	case conn.DirActive:
		r.SrcEndpoint, r.DstEndpoint = local, remote
		r.ConnInfo.Direction, r.ConnInfo.DirectionID = "Outbound", ocsfDirOutbound
	case conn.DirPassive:
		r.SrcEndpoint, r.DstEndpoint = remote, local
		r.ConnInfo.Direction, r.ConnInfo.DirectionID = "Inbound", ocsfDirInbound
	default:
		r.SrcEndpoint, r.DstEndpoint = local, remote
		r.ConnInfo.Direction, r.ConnInfo.DirectionID = "Unknown", ocsfDirUnknown
	}
	if f := c.Failure(); f != "" {
		r.StatusID, r.Status, r.StatusCode = ocsfStatusFailure, "Failure", f
		r.StatusDetail = failureDetail[f]
		if r.StatusDetail == "" {
			r.StatusDetail = "socket error " + f
		}
	}
	return r
}

var failureDetail = map[string]string{
	conn.FailRefused:     "connection refused: the peer answered the SYN with a reset",
	conn.FailTimeout:     "connection timed out: retransmissions ran out",
	conn.FailUnreachable: "host or network unreachable (ICMP)",
	conn.FailReset:       "connection reset by the peer",
	conn.FailAborted:     "connection aborted by this side (reset sent)",
	conn.FailNotAccepted: "never accepted: closed when its listener closed",
	conn.FailAbandoned:   "closed by its owner while still connecting",
}

func (e *ocsfEncoder) encode(c *conn.Conn) []byte {
	r := e.Record(c)
	b, _ := json.Marshal(&r) // only plain fields: cannot fail
	return append(b, '\n')
}

func uintText(v uint64) string { return strconv.FormatUint(v, 10) }
