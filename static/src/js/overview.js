odoo.define('background_job.overview', function (require) {
"use strict";
/**
 * The Job Queue app's first screen: per channel its jobs, the jobs done and
 * failed per minute over the last hour, the workers. One call
 * (queue.job.overview_data, models/queue_job_overview.py) when it opens,
 * then one every REFRESH_MS while it is on screen; none once it is hidden
 * (another action on top of it) or closed.
 */
var ControlPanelMixin = require('web.ControlPanelMixin');
var core = require('web.core');
var Widget = require('web.Widget');

var QWeb = core.qweb;
var _t = core._t;

var REFRESH_MS = 3000;
// The chart's drawing box in SVG units (it scales to the screen's width).
var CHART_WIDTH = 600;
var CHART_HEIGHT = 120;

/**
 * "45 s", "12 min", "3 h 05 min", "2 d 4 h": how long, to the unit that matters.
 */
function formatAge(seconds) {
    if (seconds === null || seconds === undefined) {
        return '';
    }
    var s = Math.round(seconds);
    if (s < 60) {
        return _.str.sprintf(_t('%d s'), s);
    }
    if (s < 3600) {
        return _.str.sprintf(_t('%d min'), Math.floor(s / 60));
    }
    if (s < 86400) {
        return _.str.sprintf(_t('%d h %02d min'), Math.floor(s / 3600), Math.floor(s % 3600 / 60));
    }
    return _.str.sprintf(_t('%d d %d h'), Math.floor(s / 86400), Math.floor(s % 86400 / 3600));
}

/**
 * The chart's bars: per minute, done at the bottom and failed on top,
 * scaled to the busiest minute.
 */
function chartBars(minutes) {
    var highest = _.max(_.map(minutes, function (m) { return m.done + m.failed; }).concat([1]));
    var step = CHART_WIDTH / minutes.length;
    return {
        scale: _.str.sprintf(_t('highest: %d per minute'), highest),
        done: _.reduce(minutes, function (sum, m) { return sum + m.done; }, 0),
        failed: _.reduce(minutes, function (sum, m) { return sum + m.failed; }, 0),
        bars: _.map(minutes, function (minute, index) {
            var done = CHART_HEIGHT * minute.done / highest;
            var failed = CHART_HEIGHT * minute.failed / highest;
            return {
                x: index * step + 0.5,
                width: Math.max(step - 1, 1),
                done_y: CHART_HEIGHT - done,
                done_height: done,
                failed_y: CHART_HEIGHT - done - failed,
                failed_height: failed,
                title: minute.minutes_ago
                    ? _.str.sprintf(_t('%d min ago: %d done, %d failed'),
                                    minute.minutes_ago, minute.done, minute.failed)
                    : _.str.sprintf(_t('Last minute: %d done, %d failed'),
                                    minute.done, minute.failed),
            };
        }),
    };
}

var Overview = Widget.extend(ControlPanelMixin, {
    template: 'background_job.Overview',
    events: {
        'click .o_background_job_overview_count': '_onCountClick',
    },

    init: function (parent, action) {
        this._super.apply(this, arguments);
        this.action_manager = parent;
        this.title = action.display_name || action.name;
        this.data = null;
        this.stale = false;
        this.timer = null;
        this.onScreen = false;
    },

    willStart: function () {
        return $.when(this._super.apply(this, arguments), this._fetch(false));
    },

    start: function () {
        this.set('title', this.title);
        this._render();
        this._updateControlPanel();
        return this._super.apply(this, arguments);
    },

    do_show: function () {
        this._updateControlPanel();
        return this._super.apply(this, arguments);
    },

    on_attach_callback: function () {
        this.onScreen = true;
        this._schedule();
    },

    on_detach_callback: function () {
        this.onScreen = false;
        clearTimeout(this.timer);
    },

    destroy: function () {
        this.onScreen = false;
        clearTimeout(this.timer);
        this._super.apply(this, arguments);
    },

    // -- data ------------------------------------------------------------------
    /**
     * Reads the overview. ``shadow``: a refresh, without the web client's
     * loading indicator and without an error dialog every few seconds (the
     * screen says it is stale instead).
     */
    _fetch: function (shadow) {
        var self = this;
        return this._rpc({model: 'queue.job', method: 'overview_data', args: []},
                         {shadow: shadow})
            .then(function (data) {
                self.data = data;
                self.stale = false;
            }, function (error, event) {
                if (shadow) {
                    self.stale = true;
                    if (event && event.preventDefault) {
                        event.preventDefault();
                    }
                }
            });
    },

    _schedule: function () {
        var self = this;
        clearTimeout(this.timer);
        this.timer = setTimeout(function () {
            if (!self.onScreen || self.isDestroyed()) {
                return;
            }
            self._fetch(true).always(function () {
                if (self.onScreen && !self.isDestroyed()) {
                    self._render();
                    self._schedule();
                }
            });
        }, REFRESH_MS);
    },

    // -- display ---------------------------------------------------------------
    _render: function () {
        this.$el.html(QWeb.render('background_job.Overview.Content', {
            data: this.data,
            stale: this.stale,
            chart: chartBars(this.data.minutes),
            chart_width: CHART_WIDTH,
            chart_height: CHART_HEIGHT,
            formatAge: formatAge,
            beatAge: function (seconds) {
                return seconds === null ? '' : _.str.sprintf(_t('%s ago'), formatAge(seconds));
            },
        }));
    },

    _updateControlPanel: function () {
        this.update_control_panel({
            breadcrumbs: this.action_manager.get_breadcrumbs(),
            cp_content: {},
        });
    },

    _onCountClick: function (event) {
        event.preventDefault();
        var $count = $(event.currentTarget);
        var self = this;
        // as a button's action: the server adapts it to the web client
        this._rpc({route: '/web/dataset/call_button',
                   params: {model: 'queue.job', method: 'overview_jobs_action',
                            args: [$count.attr('data-channel'), $count.attr('data-count')]}})
            .then(function (action) {
                self.do_action(action);
            });
    },
});

core.action_registry.add('background_job.overview', Overview);

return {Overview: Overview, formatAge: formatAge, chartBars: chartBars};

});
