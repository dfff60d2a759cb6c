package vcc

import (
	"fmt"
	"strings"
)

// Regions of VCC.
const (
	RegionEMEA = "emea"
	RegionNAM  = "nam"
	RegionAPAC = "apac"
)

// RegionURLs returns the API root (BaseURL) and the token endpoint
// (TokenURL) of a VCC region: emea, nam or apac (any case).
func RegionURLs(region string) (baseURL, tokenURL string, err error) {
	r := strings.ToLower(strings.TrimSpace(region))
	switch r {
	case RegionEMEA, RegionNAM, RegionAPAC:
		return "https://" + r + ".api.cc.vonage.com/useradmin",
			"https://" + r + ".cc.vonage.com/Auth/connect/token", nil
	}
	return "", "", fmt.Errorf("vcc: region %q: must be %s, %s or %s", region, RegionEMEA, RegionNAM, RegionAPAC)
}

// LegacyRegionURLs is RegionURLs for the older newvoicemedia.com hosts.
func LegacyRegionURLs(region string) (baseURL, tokenURL string, err error) {
	r := strings.ToLower(strings.TrimSpace(region))
	switch r {
	case RegionEMEA, RegionNAM, RegionAPAC:
		return "https://" + r + ".api.newvoicemedia.com/useradmin",
			"https://" + r + ".newvoicemedia.com/Auth/connect/token", nil
	}
	return "", "", fmt.Errorf("vcc: region %q: must be %s, %s or %s", region, RegionEMEA, RegionNAM, RegionAPAC)
}
