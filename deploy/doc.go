// Package deploy holds no code: it is the home of paygate's deployment files
// (Prometheus rules, Alertmanager, Grafana, Dockerfile, compose, Kubernetes,
// nginx), which its tests check with the tools that read them (promtool,
// amtool, nginx -t) and by decoding them strictly.
package deploy
