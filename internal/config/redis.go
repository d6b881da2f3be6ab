package config

import (
	"net"
	"net/url"
	"strconv"
)

// Redis is where several gateways share state. As in LiteLLM, each of
// router_settings.redis_host, redis_port, redis_password and redis_url
// wins over its environment variable (REDIS_HOST, REDIS_PORT,
// REDIS_PASSWORD, REDIS_URL), and a URL, from either, wins over host,
// port and password.
type Redis struct {
	URL      Secret // redis://[:password@]host:port[/db], or rediss:// for TLS
	Host     string
	Port     string // "6379" when unset
	Password Secret
}

// Enabled says whether a Redis server is configured.
func (r Redis) Enabled() bool { return r.URL != "" || r.Host != "" }

// Address is host:port for logs; it never holds the password.
func (r Redis) Address() string {
	if r.URL != "" {
		u, err := url.Parse(r.URL.Value())
		if err != nil {
			return "(unparsable redis_url)"
		}
		return u.Host
	}
	return net.JoinHostPort(r.Host, r.port())
}

func (r Redis) port() string {
	if r.Port == "" {
		return "6379"
	}
	return r.Port
}

// ClientURL is the one URL a Redis client dials: redis_url as given, or
// one made of host, port and password.
func (r Redis) ClientURL() string {
	if r.URL != "" {
		return r.URL.Value()
	}
	u := url.URL{Scheme: "redis", Host: net.JoinHostPort(r.Host, r.port())}
	if r.Password != "" {
		u.User = url.UserPassword("", r.Password.Value())
	}
	return u.String()
}

// redis reads router_settings.redis_* over the REDIS_* environment.
func (d *decoder) redis(router map[string]any) Redis {
	env := func(name string) string {
		v, _ := d.lookupEnv(name)
		return v
	}
	r := Redis{
		URL:      Secret(env("REDIS_URL")),
		Host:     env("REDIS_HOST"),
		Port:     env("REDIS_PORT"),
		Password: Secret(env("REDIS_PASSWORD")),
	}
	if v, ok := router["redis_url"].(Secret); ok && v != "" {
		r.URL = v
	}
	if v, ok := router["redis_host"].(string); ok && v != "" {
		r.Host = v
	}
	if v, ok := router["redis_port"].(string); ok && v != "" {
		r.Port = v
	}
	if v, ok := router["redis_password"].(Secret); ok && v != "" {
		r.Password = v
	}
	if r.URL != "" {
		u, err := url.Parse(r.URL.Value())
		if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
			d.errorf(d.lines["router_settings.redis_url"], "router_settings.redis_url", "must be a redis:// or rediss:// URL with a host (or set REDIS_URL)")
		}
		return Redis{URL: r.URL}
	}
	if r.Host == "" && (r.Port != "" || r.Password != "") {
		d.warnf(d.lines["router_settings.redis_port"], "router_settings: redis_port or redis_password is set without redis_host (or REDIS_HOST): Redis is not used")
		return Redis{}
	}
	if r.Host != "" {
		if n, err := strconv.Atoi(r.port()); err != nil || n <= 0 || n > 65535 {
			d.errorf(d.lines["router_settings.redis_port"], "router_settings.redis_port", "must be a port number, got %q", r.Port)
		}
	}
	return r
}
