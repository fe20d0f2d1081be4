# Reference values for tests/test_outcomes.py: the review folder made there from tests/forms/other_trial.yaml,
# pooled with metafor 3.8. Derived SDs and log HRs are computed here by their published formulas, independently
# of the Python code. Run: Rscript tests/r/make_reference_outcomes.R
library(metafor)
p <- function(label, x) cat(sprintf("%s = %.12f\n", label, x))
show <- function(label, res) { p(paste(label, "theta"), res$beta[1]); p(paste(label, "se"), res$se); p(paste(label, "tau2"), res$tau2); p(paste(label, "i2"), res$I2) }

# response, 800 vs 400 mg (T1..T4)
ai <- c(20, 30, 25, 22); n1 <- c(50, 80, 40, 60); ci <- c(12, 25, 8, 18); n2 <- c(50, 80, 42, 61)
res <- rma(measure="RR", ai=ai, n1i=n1, ci=ci, n2i=n2, method="REML"); show("response RR", res)
l1 <- leave1out(res); p("response loo T1 theta", l1$estimate[1]); p("response loo T4 theta", l1$estimate[4])
res_x <- rma(measure="RR", ai=ai[1:3], n1i=n1[1:3], ci=ci[1:3], n2i=n2[1:3], method="REML"); show("response excl poor", res_x)
dat <- escalc(measure="RR", ai=ai, n1i=n1, ci=ci, n2i=n2); dat$region <- c("EU", "EU", "US", "US")
eu <- rma(yi, vi, data=dat, subset=region=="EU", method="REML"); us <- rma(yi, vi, data=dat, subset=region=="US", method="REML")
show("response EU", eu); show("response US", us)
between <- rma(c(eu$beta, us$beta), sei=c(eu$se, us$se), method="EE"); p("response Q between", between$QE)
common <- rma(yi, vi, mods = ~ factor(region), data=dat, method="REML"); p("response common QM", common$QM); p("response common tau2", common$tau2)

# QoL: SDs derived (T2 from SE, T3 from a CI with t on n - 1 df, T4 mean by Luo 2018 and SD by Wan 2014 from the IQR)
sd_se <- function(se, n) se * sqrt(n)
sd_ci <- function(lo, hi, n) sqrt(n) * (hi - lo) / (2 * qt(0.975, n - 1))
luo_iqr <- function(m, q1, q3, n) (0.7 + 0.39 / n) * (q1 + q3) / 2 + (0.3 - 0.39 / n) * m
wan_iqr <- function(q1, q3, n) (q3 - q1) / (2 * qnorm((0.75 * n - 0.125) / (n + 0.25)))
m1 <- c(62.1, 60.4, 55.0, luo_iqr(61, 52, 70, 60)); m2 <- c(58.3, 57.9, 52.5, luo_iqr(57, 48, 66, 61))
s1 <- c(10.5, sd_se(1.3, 80), sd_ci(51.2, 58.8, 40), wan_iqr(52, 70, 60))
s2 <- c(11.2, sd_se(1.25, 80), sd_ci(49.0, 56.0, 42), wan_iqr(48, 66, 61))
q1n <- c(50, 80, 40, 60); q2n <- c(50, 80, 42, 61)
p("T3 hi sd", s1[3]); p("T4 hi mean", m1[4]); p("T4 hi sd", s1[4])
show("qol MD", rma(measure="MD", m1i=m1, sd1i=s1, n1i=q1n, m2i=m2, sd2i=s2, n2i=q2n, method="REML"))
show("qol SMD", rma(measure="SMD", m1i=m1, sd1i=s1, n1i=q1n, m2i=m2, sd2i=s2, n2i=q2n, method="REML"))

# adverse events: Nausea any (T1, T2, T3), Nausea 3-4 (T3 double zero), Rash any (T1, T4)
na <- list(ai=c(10, 20, 5), n1i=c(50, 80, 40), ci=c(6, 12, 3), n2i=c(50, 80, 42))
n34 <- list(ai=c(2, 1, 0), n1i=c(50, 80, 40), ci=c(0, 0, 0), n2i=c(50, 80, 42))
ra <- list(ai=c(8, 9), n1i=c(50, 60), ci=c(4, 5), n2i=c(50, 61))
for (nm in c("na", "n34", "ra")) {
  d <- get(nm)
  show(paste(nm, "MH RR"), rma.mh(measure="RR", ai=d$ai, n1i=d$n1i, ci=d$ci, n2i=d$n2i))
  show(paste(nm, "PETO"), rma.peto(ai=d$ai, n1i=d$n1i, ci=d$ci, n2i=d$n2i))
  show(paste(nm, "MH RD"), rma.mh(measure="RD", ai=d$ai, n1i=d$n1i, ci=d$ci, n2i=d$n2i))
}

# PFS: T1 from the CI, T2 from O-E and V, T3 from the log-rank p with events and allocation, T4 inverted
yi <- c(log(0.80), -6.5 / 30.2, sign(log(0.85)) * qnorm(1 - 0.21 / 2) / sqrt(120 * 40 * 42 / 82^2), -log(1.15))
sei <- c((log(0.98) - log(0.65)) / (2 * qnorm(0.975)), 1 / sqrt(30.2), 1 / sqrt(120 * 40 * 42 / 82^2),
         (log(1.47) - log(0.90)) / (2 * qnorm(0.975)))
p("T3 log HR", yi[3]); p("T3 se", sei[3])
show("pfs HR", rma(yi, sei=sei, method="REML"))

# the response subgroups with one tau^2 for both (the default, subgroup_model = "common")
pc <- predict(common, newmods=c(0, 1)); p("response common EU theta", pc$pred[1]); p("response common US theta", pc$pred[2])
p("response common US se", pc$se[2]); p("response common QMp", common$QMp)

# single-arm proportions per term: Nausea (any grade) in the 800 mg arms
p("plo nausea estimate", transf.ilogit(rma(measure="PLO", xi=c(10, 20, 5), ni=c(50, 80, 40), method="REML")$beta[1]))
