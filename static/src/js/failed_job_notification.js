odoo.define('background_job.failed_job_notification', function (require) {
"use strict";
/**
 * A sticky warning when a job the user enqueued failed for good. The server
 * sends it on the bus channel [db, 'background_job.failed', uid], which it
 * adds to the user's poll itself (controllers/main.py): nobody can listen to
 * another user's channel.
 */
var bus = require('bus.bus').bus;
var core = require('web.core');
var WebClient = require('web.WebClient');

var _t = core._t;
var CHANNEL = 'background_job.failed';

WebClient.include({
    show_application: function () {
        var result = this._super.apply(this, arguments);
        bus.on('notification', this, this._onBackgroundJobNotification);
        bus.start_polling();
        return result;
    },

    _onBackgroundJobNotification: function (notifications) {
        var self = this;
        _.each(notifications, function (notification) {
            var channel = notification[0];
            var job = notification[1];
            if (!_.isArray(channel) || channel[1] !== CHANNEL) {
                return;
            }
            // The notification shows HTML: everything from the job is escaped.
            var link = _.str.sprintf('<a href="#id=%s&amp;model=queue.job&amp;view_type=form">%s</a>',
                                     parseInt(job.id, 10), _.escape(_t('Open the job')));
            self.do_warn(_.str.sprintf(_t('Background job failed: %s'), _.escape(job.name)),
                         _.escape(job.exc_message) + '<br/>' + link, true);
        });
    },
});

});
