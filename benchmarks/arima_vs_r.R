# R's forecast::auto.arima with its default settings on series from a CSV, one R process for all.
# Called by benchmarks/arima_vs_r.py (the reference side, never a fanlab dependency):
#   Rscript benchmarks/arima_vs_r.R IN.csv OUT.csv
# IN.csv: long format, columns id, subset, period, h, t, y (t = 1..n; the last h points are the
# holdout). OUT.csv: one row per series: the chosen orders, drift / mean, log-likelihood, AIC,
# AICc, sigma2 as R reports them, CPU seconds of the fit, then per level (80, 95) the share of
# the h holdout points inside the band and the band's width at h = 1 and h = H.
suppressPackageStartupMessages(library(forecast))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], stringsAsFactors = FALSE)
ids <- unique(d$id)
rows <- vector("list", length(ids))
# every 100 series, what is done so far goes to OUT.csv.part (a long run can be read midway)
flush_part <- function(rows) {
  done <- Filter(Negate(is.null), rows)
  cols <- unique(unlist(lapply(done, names)))
  done <- lapply(done, function(r) { for (c in setdiff(cols, names(r))) r[[c]] <- NA; r[cols] })
  write.csv(do.call(rbind, done), paste0(args[2], ".part"), row.names = FALSE)
}
for (i in seq_along(ids)) {
  if (i %% 100 == 0) flush_part(rows)
  s <- d[d$id == ids[i], ]
  s <- s[order(s$t), ]
  h <- s$h[1]; m <- s$period[1]; n <- nrow(s) - h
  x <- ts(s$y[1:n], frequency = m)
  test <- s$y[(n + 1):(n + h)]
  t0 <- proc.time()[["user.self"]]
  fit <- tryCatch(auto.arima(x), error = function(e) NULL)
  cpu <- proc.time()[["user.self"]] - t0
  if (is.null(fit)) {
    rows[[i]] <- data.frame(id = ids[i], subset = s$subset[1], error = 1, cpu_s = cpu)
    next
  }
  fc <- forecast(fit, h = h, level = c(80, 95))
  a <- fit$arma  # p, q, P, Q, m, d, D
  cf <- names(coef(fit))
  r <- data.frame(id = ids[i], subset = s$subset[1], error = 0, cpu_s = cpu, n = n, h = h, m = m,
                  p = a[1], d = a[6], q = a[2], P = a[3], D = a[7], Q = a[4],
                  drift = as.integer("drift" %in% cf), mean = as.integer("intercept" %in% cf),
                  loglik = fit$loglik, aic = fit$aic, aicc = fit$aicc, sigma2 = fit$sigma2)
  for (j in 1:2) {
    L <- c(80, 95)[j]
    lo <- as.numeric(fc$lower[, j]); hi <- as.numeric(fc$upper[, j])
    r[[paste0("cov", L)]] <- mean(test >= lo & test <= hi)
    r[[paste0("w", L, "_h1")]] <- hi[1] - lo[1]
    r[[paste0("w", L, "_hH")]] <- hi[h] - lo[h]
  }
  r$mean_h1 <- as.numeric(fc$mean)[1]
  r$mean_hH <- as.numeric(fc$mean)[h]
  rows[[i]] <- r
}
flush_part(rows)
invisible(file.rename(paste0(args[2], ".part"), args[2]))
